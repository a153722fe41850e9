#include <algorithm>

#include "collectors/state_model.h"

// The state model's handlers for what a CPU walks: trapped CR3 writes and
// INVPCIDs, the guest's context switches and returns to user, and the
// per-mm state (gathers, LAM, membarrier) switches read.
namespace tlbscope::collect {

void StateModel::OnCr3Write(const CEvent& e, VcpuModel& v) {
  ++v.cr3_writes;
  hw_cr3_seen_ = true;
  v.hw_cr3_known = true;
  v.cr3 = e.cr3.new_cr3;
  v.root = e.cr3.new_cr3 & kCr3RootMask;
  v.pcid = e.cr3.pcid;
  if (e.cr3.noflush) return;
  v.last_full_flush_seq = e.seq;
  v.any_full_flush = true;
}

void StateModel::OnInvpcid(const CEvent& e, VcpuModel& v) {
  ++v.invpcids;
  if (e.invpcid.type == 0 || e.invpcid.faulted) return;
  v.last_full_flush_seq = e.seq;
  v.any_full_flush = true;
}

void StateModel::OnContextSwitch(const CEvent& e, VcpuModel& v) {
  const ContextSwitchF& c = e.cs;
  ++v.switches;
  if (c.raw) return;
  if (c.prev_mm != c.next_mm) LeaveFlushes(c.prev_mm, e.vcpu);
  MmModel& m = Mm(c.next_mm);
  v.loaded_mm = c.next_mm;
  v.asid = c.asid;
  v.lam = c.cpu_lam;
  v.lazy = false;
  if (c.next_mm != kInitMm) m.cpumask |= Bit(e.vcpu);
  if (c.cr3 != 0) {
    m.root = c.cr3 & kCr3RootMask;
    v.slots[c.asid & 7] = {c.next_mm, m.tlb_gen};
    v.slot_unconfirmed = true;
    v.slot_seq = e.seq;
    return;
  }
  AsidSlot& s = v.slots[c.asid & 7];
  if (s.ctx_id != c.next_mm) s = {c.next_mm, m.tlb_gen};
}

// e.vcpu switched away from `mm`: the requests still waiting on it need
// its ack no more (PendingFlush::left).
void StateModel::LeaveFlushes(uint64_t mm, uint32_t vcpu) {
  const MmModel* known = this->mm(mm);
  if (known == nullptr || known->flushes.empty()) return;
  for (PendingFlush& f : Mm(mm).flushes) {
    if (f.initiator != vcpu) f.left |= f.unacked() & Bit(vcpu);
  }
}

void StateModel::OnUserEnter(const CEvent& e, VcpuModel& v) {
  ++v.user_enters;
  v.ipis_unserved = 0;  // calls that ran no flush_tlb_func (other on_cpu work)
  v.user_mode = true;
  v.user_mm = e.user_enter.mm;
  // The guest's own local gen: what the switch read (the record of the
  // switch does not carry it; a switch racing a flush request reads the
  // new gen before the request's record is written).
  AsidSlot& s = v.slots[v.asid & 7];
  if (MmModel* m = e.user_enter.mm != 0 ? &Mm(e.user_enter.mm) : nullptr; m && !m->gen_seen) {
    // No event has carried this mm's gen yet: the guest's are the truth.
    m->tlb_gen = e.user_enter.mm_gen;
    m->gen_seen = true;
    if (s.ctx_id == e.user_enter.mm) s.tlb_gen = e.user_enter.local_gen;
    v.slot_unconfirmed = false;
  } else if (s.ctx_id == e.user_enter.mm && v.slot_unconfirmed) {
    s.tlb_gen = std::max(s.tlb_gen, e.user_enter.local_gen);
    v.slot_unconfirmed = false;
  }
  v.lam = e.user_enter.cpu_lam;
}

void StateModel::OnGatherStart(const CEvent& e) {
  MmModel& m = Mm(e.gather_start.mm);
  if (m.gathers.size() >= 4 * kMaxVcpus) return;
  m.gathers.push_back({e.vcpu, e.gather_start.start, e.gather_start.end, e.seq,
                       e.gather_start.pending, e.gather_start.gather});
}

void StateModel::OnGatherEnd(const CEvent& e) {
  MmModel& m = Mm(e.gather_end.mm);
  for (size_t i = m.gathers.size(); i-- > 0;) {
    if (!m.gathers[i].EndedBy(e.vcpu, e.gather_end.gather)) continue;
    m.gathers.erase(m.gathers.begin() + i);
    return;
  }
}

void StateModel::OnLamSet(const CEvent& e) {
  MmModel& m = Mm(e.lam_set.mm);
  m.lam = e.lam_set.lam_cr3_bits;
  m.untag_mask = e.lam_set.untag_mask;
  m.lam_seq = e.seq;
}

void StateModel::OnMembarrierRegister(const CEvent& e) {
  MmModel& m = Mm(e.mm_only.mm);
  m.sync_core = true;
  m.sync_core_seq = e.seq;
}

}  // namespace tlbscope::collect
