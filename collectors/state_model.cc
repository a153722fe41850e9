#include "collectors/state_model.h"

#include <algorithm>

namespace tlbscope::collect {
namespace {

bool IsGuestRingKind(Kind k) {
  switch (k) {
    case Kind::kCr3Write:
    case Kind::kInvlpg:
    case Kind::kInvpcid:
    case Kind::kGuestLog:
    case Kind::kGuestMark:
    case Kind::kVcpuState:
    case Kind::kOther:
      return false;
    default:
      return true;
  }
}

}  // namespace

const RecentFlush* MmModel::FindRecent(uint64_t gen) const {
  const RecentFlush& r = recent[gen % recent.size()];
  return r.gen == gen && gen != 0 ? &r : nullptr;
}

std::optional<uint64_t> VcpuModel::LocalGen(uint64_t mm) const {
  const AsidSlot& s = slot();
  if (s.ctx_id != mm) return std::nullopt;
  return s.tlb_gen;
}

const MmModel* StateModel::mm(uint64_t id) const {
  auto it = mms_.find(id);
  return it == mms_.end() ? nullptr : &it->second;
}

VcpuModel& StateModel::Vcpu(uint32_t v) {
  if (v >= vcpus_.size()) vcpus_.resize(v + 1);
  return vcpus_[v];
}

MmModel& StateModel::Mm(uint64_t id) {
  auto [it, inserted] = mms_.try_emplace(id);
  if (inserted) it->second.ctx_id = id;
  return it->second;
}

bool StateModel::CanWalk(uint32_t v, uint64_t mm_id) const {
  const VcpuModel* vc = vcpu(v);
  if (vc == nullptr || !vc->seen) return false;
  const MmModel* m = mm(mm_id);
  if (vc->hw_cr3_known && m != nullptr && m->root != 0) return vc->root == m->root;
  return vc->loaded_mm == mm_id;
}

int StateModel::PendingOn(uint32_t v) const {
  int n = 0;
  for (const auto& [id, m] : mms_) {
    for (const PendingFlush& f : m.flushes) n += (f.unacked() & Bit(v)) ? 1 : 0;
  }
  return n;
}

// One handler per event kind (state_switch.cc: the address space a CPU
// walks; state_flush.cc: requests, IPIs and their acknowledgements).
const ApplyNotes& StateModel::Apply(const CEvent& e) {
  notes_ = ApplyNotes{};
  if (e.vcpu >= kMaxVcpus) return notes_;
  VcpuModel& v = Vcpu(e.vcpu);
  v.seen = true;
  ++v.events;
  if (IsGuestRingKind(e.kind)) v.guest_events = true;
  switch (e.kind) {
    case Kind::kCr3Write:
      OnCr3Write(e, v);
      break;
    case Kind::kInvlpg:
      ++v.invlpgs;
      break;
    case Kind::kInvpcid:
      OnInvpcid(e, v);
      break;
    case Kind::kIpiSent:
      OnIpiSent(e, v);
      break;
    case Kind::kIpiReceived:
      OnIpiReceived(e, v);
      break;
    case Kind::kFlushRequest:
      OnFlushRequest(e, v);
      break;
    case Kind::kFlushFunc:
      OnFlushFunc(e, v);
      break;
    case Kind::kFlushDone:
      OnFlushDone(e);
      break;
    case Kind::kContextSwitch:
      OnContextSwitch(e, v);
      break;
    case Kind::kLazyEnter:
      v.lazy = true;
      v.lazy_seq = e.seq;
      break;
    case Kind::kLazyExit:
      v.lazy = false;
      break;
    case Kind::kCpumask:
      Mm(e.cpumask.mm).cpumask = e.cpumask.cpus;
      break;
    case Kind::kGatherStart:
      OnGatherStart(e);
      break;
    case Kind::kGatherEnd:
      OnGatherEnd(e);
      break;
    case Kind::kLamSet:
      OnLamSet(e);
      break;
    case Kind::kMembarrierRegister:
      OnMembarrierRegister(e);
      break;
    case Kind::kUserEnter:
      OnUserEnter(e, v);
      break;
    case Kind::kUserExit:
      v.user_mode = false;
      break;
    case Kind::kPageFree:
      ++Mm(e.page_free.mm).page_frees;
      break;
    case Kind::kPageTableFree:
      ++Mm(e.pt_free.mm).table_frees;
      break;
    case Kind::kStaleRead:
      ++Mm(e.stale.mm).stale_reads;
      break;
    case Kind::kVcpuState:
      v.stopped |= e.vcpu_state.state == v1::VcpuState::STOPPED;
      break;
    default:
      break;
  }
  return notes_;
}

}  // namespace tlbscope::collect
