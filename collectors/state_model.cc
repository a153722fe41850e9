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
    case Kind::kVcpuState:
    case Kind::kOther:
      return false;
    default:
      return true;
  }
}

CpuMask Bit(uint32_t cpu) { return cpu < 64 ? 1ull << cpu : 0; }

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

// flush_tlb_func ran on e.vcpu for e.flush_func.mm: which request does it
// acknowledge? After a call IPI it serves another CPU's request: the oldest
// whose initiator has sent this CPU its IPI, preferring the range it
// reports; otherwise it is the initiator's local flush, inside
// flush_tlb_mm_range, for its own newest request. Each falls back to any
// request waiting on this CPU.
void StateModel::Ack(const CEvent& e, MmModel& m, bool from_ipi) {
  CpuMask me = Bit(e.vcpu);
  // The guest says which request (its new_tlb_gen, low 32 bits) it serves.
  if (uint64_t want = e.flush_func.request_tlb_gen; want != 0) {
    for (PendingFlush& f : m.flushes) {
      if ((f.unacked() & me) && static_cast<uint32_t>(f.gen) == want) {
        AckOne(e, m, &f);
        return;
      }
    }
  }
  auto pick_where = [&](auto accept) -> PendingFlush* {
    PendingFlush* pick = nullptr;
    for (PendingFlush& f : m.flushes) {
      if (!(f.unacked() & me) || !accept(f)) continue;
      bool range = f.start == e.flush_func.start && f.end == e.flush_func.end;
      if (from_ipi && range) return &f;             // the oldest with this range
      if (!from_ipi || pick == nullptr) pick = &f;  // local: the newest
    }
    return pick;
  };
  PendingFlush* pick = nullptr;
  if (from_ipi) {  // the request whose IPI arrived, then one whose IPI was sent
    pick = pick_where(
        [&](const PendingFlush& f) { return f.initiator != e.vcpu && (f.delivered & me); });
    if (pick == nullptr) {
      pick = pick_where(
          [&](const PendingFlush& f) { return f.initiator != e.vcpu && (f.ipied & me); });
    }
  }
  if (pick == nullptr) {
    pick = pick_where([&](const PendingFlush& f) { return (f.initiator != e.vcpu) == from_ipi; });
  }
  if (pick == nullptr) pick = pick_where([](const PendingFlush&) { return true; });
  if (pick == nullptr) return;
  AckOne(e, m, pick);
}

void StateModel::AckOne(const CEvent& e, MmModel& m, PendingFlush* pick) {
  pick->acked |= Bit(e.vcpu);
  pick->last_ack_ns = e.host_ns;
  pick->last_ack_seq = e.seq;
  notes_.acked = *pick;
  if (pick->done && pick->unacked() == 0) {
    m.flushes.erase(m.flushes.begin() + (pick - m.flushes.data()));
  }
}

const ApplyNotes& StateModel::Apply(const CEvent& e) {
  notes_ = ApplyNotes{};
  if (e.vcpu >= kMaxVcpus) return notes_;
  VcpuModel& v = Vcpu(e.vcpu);
  v.seen = true;
  ++v.events;
  if (IsGuestRingKind(e.kind)) v.guest_events = true;
  switch (e.kind) {
    case Kind::kCr3Write:
      ++v.cr3_writes;
      hw_cr3_seen_ = true;
      v.hw_cr3_known = true;
      v.cr3 = e.cr3.new_cr3;
      v.root = e.cr3.new_cr3 & kCr3RootMask;
      v.pcid = e.cr3.pcid;
      if (!e.cr3.noflush) {
        v.last_full_flush_seq = e.seq;
        v.any_full_flush = true;
      }
      break;
    case Kind::kInvlpg:
      ++v.invlpgs;
      break;
    case Kind::kInvpcid:
      ++v.invpcids;
      if (e.invpcid.type != 0 && !e.invpcid.faulted) {
        v.last_full_flush_seq = e.seq;
        v.any_full_flush = true;
      }
      break;
    case Kind::kIpiSent:
      ++v.ipis_sent;
      // flush_tlb_mm_range sends its call IPIs right after its request.
      if (IsCallVector(e.ipi_sent.vector) && v.last_request_id != 0) {
        auto it = mms_.find(v.last_request_mm);
        if (it != mms_.end()) {
          for (PendingFlush& f : it->second.flushes) {
            if (f.id != v.last_request_id) continue;
            CpuMask newly = e.ipi_sent.targets & f.targets & ~f.ipied;
            f.ipied |= newly;
            for (uint32_t t = 0; t < kMaxVcpus && newly; ++t) {
              if (!(newly & Bit(t))) continue;
              newly &= ~Bit(t);
              VcpuModel& tv = Vcpu(t);
              if (tv.ipi_count == tv.ipi_queue.size()) {  // never received: drop the oldest
                tv.ipi_head = (tv.ipi_head + 1) % tv.ipi_queue.size();
                --tv.ipi_count;
              }
              tv.ipi_queue[(tv.ipi_head + tv.ipi_count++) % tv.ipi_queue.size()] = {f.mm, f.id};
            }
          }
        }
      }
      break;
    case Kind::kIpiReceived:
      ++v.ipis_received;
      if (IsCallVector(e.ipi_received.vector)) {
        if (v.ipis_unserved < 64) ++v.ipis_unserved;
        // It is the IPI of the oldest request sent here and not delivered
        // yet (an IPI is received after it is sent).
        while (v.ipi_count > 0) {
          VcpuModel::IpiFor q = v.ipi_queue[v.ipi_head];
          v.ipi_head = (v.ipi_head + 1) % v.ipi_queue.size();
          --v.ipi_count;
          auto it = mms_.find(q.mm);
          if (it == mms_.end()) continue;
          bool found = false;
          for (PendingFlush& f : it->second.flushes) {
            if (f.id == q.id && (f.unacked() & Bit(e.vcpu))) {
              f.delivered |= Bit(e.vcpu);
              found = true;
            }
          }
          if (found) break;  // else already served or gone: the next one
        }
      }
      break;
    case Kind::kFlushRequest: {
      const FlushRequestF& r = e.flush_request;
      v.ipis_unserved = 0;  // an IPI handler runs to its end before this CPU initiates
      MmModel& m = Mm(r.mm);
      ++m.flush_requests;
      m.tlb_gen = std::max(m.tlb_gen, r.new_tlb_gen);
      for (uint32_t c = 0; c < vcpus_.size() && c < 64; ++c) {
        if (c == e.vcpu || !(m.cpumask & Bit(c)) || (r.targets & Bit(c))) continue;
        if (vcpus_[c].lazy && vcpus_[c].loaded_mm == r.mm) ++notes_.lazy_skipped;
      }
      if (m.flushes.size() >= kMaxInFlightPerMm) {
        m.flushes.erase(m.flushes.begin());
        ++m.dropped_flushes;
      }
      PendingFlush f;
      f.id = e.seq;
      f.mm = r.mm;
      f.gen = r.new_tlb_gen;
      f.start = r.start;
      f.end = r.end;
      f.stride_shift = r.stride_shift;
      f.freed_tables = r.freed_tables;
      f.initiator = e.vcpu;
      f.targets = r.targets;
      f.request_ns = e.host_ns;
      m.flushes.push_back(f);
      v.last_request_mm = r.mm;
      v.last_request_id = e.seq;
      m.recent[r.new_tlb_gen % m.recent.size()] = {r.new_tlb_gen, r.start, r.end, e.seq,
                                                   r.freed_tables};
      break;
    }
    case Kind::kFlushFunc: {
      const FlushFuncF& f = e.flush_func;
      MmModel& m = Mm(f.mm);
      ++v.flush_funcs;
      m.tlb_gen = std::max(m.tlb_gen, f.mm_gen);
      if (f.not_loaded) {
        m.cpumask &= ~Bit(e.vcpu);
      } else if (f.lazy_left) {
        v.lazy = false;
      } else {
        AsidSlot& s = v.slots[v.asid & 7];
        if (s.ctx_id == f.mm) {
          s.tlb_gen = std::max(s.tlb_gen, f.local_gen_after);
          v.slot_unconfirmed = false;
        }
        if (f.full && f.local_gen_after != f.local_gen_before) {
          v.last_full_flush_seq = e.seq;
          v.any_full_flush = true;
        }
      }
      bool from_ipi = v.ipis_unserved > 0;
      if (from_ipi) --v.ipis_unserved;
      Ack(e, m, from_ipi);
      break;
    }
    case Kind::kContextSwitch: {
      const ContextSwitchF& c = e.cs;
      ++v.switches;
      if (c.raw) break;
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
      } else {
        AsidSlot& s = v.slots[c.asid & 7];
        if (s.ctx_id != c.next_mm) s = {c.next_mm, m.tlb_gen};
      }
      break;
    }
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
    case Kind::kFlushDone: {
      MmModel& m = Mm(e.flush_done.mm);
      if (e.flush_done.tlb_gen > m.completed_gen) {
        m.completed_gen = e.flush_done.tlb_gen;
        m.completed_seq = e.seq;
      }
      for (size_t i = 0; i < m.flushes.size(); ++i) {
        PendingFlush& f = m.flushes[i];
        if (f.gen != e.flush_done.tlb_gen || f.initiator != e.vcpu || f.done) continue;
        f.done = true;
        f.done_seq = e.seq;
        f.done_ns = e.host_ns;
        notes_.completed = f;
        if (f.unacked() == 0) m.flushes.erase(m.flushes.begin() + i);
        break;
      }
      break;
    }
    case Kind::kGatherStart: {
      MmModel& m = Mm(e.gather_start.mm);
      if (m.gathers.size() < 4 * kMaxVcpus) {
        m.gathers.push_back(
            {e.vcpu, e.gather_start.start, e.gather_start.end, e.seq, e.gather_start.pending});
      }
      break;
    }
    case Kind::kGatherEnd: {
      MmModel& m = Mm(e.gather_end.mm);
      for (size_t i = m.gathers.size(); i-- > 0;) {
        if (m.gathers[i].vcpu == e.vcpu) {
          m.gathers.erase(m.gathers.begin() + i);
          break;
        }
      }
      break;
    }
    case Kind::kLamSet: {
      MmModel& m = Mm(e.lam_set.mm);
      m.lam = e.lam_set.lam_cr3_bits;
      m.untag_mask = e.lam_set.untag_mask;
      m.lam_seq = e.seq;
      break;
    }
    case Kind::kMembarrierRegister: {
      MmModel& m = Mm(e.mm_only.mm);
      m.sync_core = true;
      m.sync_core_seq = e.seq;
      break;
    }
    case Kind::kUserEnter:
      ++v.user_enters;
      v.ipis_unserved = 0;  // calls that ran no flush_tlb_func (other on_cpu work)
      v.user_mode = true;
      v.user_mm = e.user_enter.mm;
      // The guest's own local gen: what the switch read (the record of the
      // switch does not carry it; a switch racing a flush request reads the
      // new gen before the request's record is written).
      if (AsidSlot& s = v.slots[v.asid & 7]; s.ctx_id == e.user_enter.mm && v.slot_unconfirmed) {
        s.tlb_gen = std::max(s.tlb_gen, e.user_enter.local_gen);
        v.slot_unconfirmed = false;
      }
      v.lam = e.user_enter.cpu_lam;
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
      if (e.vcpu_state.state == v1::VcpuState::STOPPED) v.stopped = true;
      break;
    default:
      break;
  }
  return notes_;
}

}  // namespace tlbscope::collect
