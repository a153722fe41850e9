#include <algorithm>

#include "collectors/state_model.h"

// The state model's flush handlers: a flush request, the call IPIs that
// carry it, the flush_tlb_func runs that acknowledge it and its flush_done.
namespace tlbscope::collect {

void StateModel::OnIpiSent(const CEvent& e, VcpuModel& v) {
  ++v.ipis_sent;
  // flush_tlb_mm_range sends its call IPIs right after its request.
  if (!IsCallVector(e.ipi_sent.vector) || v.last_request_id == 0) return;
  auto it = mms_.find(v.last_request_mm);
  if (it == mms_.end()) return;
  for (PendingFlush& f : it->second.flushes) {
    if (f.id != v.last_request_id) continue;
    CpuMask newly = e.ipi_sent.targets & f.targets & ~f.ipied;
    f.ipied |= newly;
    for (uint32_t t = 0; t < kMaxVcpus && newly; ++t) {
      if (!(newly & Bit(t))) continue;
      newly &= ~Bit(t);
      Vcpu(t).ipi_queue.Push({f.mm, f.id});
    }
  }
}

void StateModel::OnIpiReceived(const CEvent& e, VcpuModel& v) {
  ++v.ipis_received;
  if (!IsCallVector(e.ipi_received.vector)) return;
  if (v.ipis_unserved < 64) ++v.ipis_unserved;
  // It is the IPI of the oldest request sent here and not delivered yet
  // (an IPI is received after it is sent).
  while (!v.ipi_queue.empty()) {
    VcpuModel::IpiFor q = v.ipi_queue.front();
    v.ipi_queue.PopFront();
    auto it = mms_.find(q.mm);
    if (it == mms_.end()) continue;
    bool found = false;
    for (PendingFlush& f : it->second.flushes) {
      if (f.id == q.id && (f.unacked() & Bit(e.vcpu))) {
        f.delivered |= Bit(e.vcpu);
        found = true;
      }
    }
    if (found) return;  // else already served or gone: the next one
  }
}

void StateModel::OnFlushRequest(const CEvent& e, VcpuModel& v) {
  const FlushRequestF& r = e.flush_request;
  v.ipis_unserved = 0;  // an IPI handler runs to its end before this CPU initiates
  MmModel& m = Mm(r.mm);
  ++m.flush_requests;
  m.tlb_gen = std::max(m.tlb_gen, r.new_tlb_gen);
  m.gen_seen = true;
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
  m.max_request_gen = std::max(m.max_request_gen, r.new_tlb_gen);
  ApplyEarlyAcks(m, m.flushes.back());
  v.last_request_mm = r.mm;
  v.last_request_id = e.seq;
  m.recent[r.new_tlb_gen % m.recent.size()] = {r.new_tlb_gen, r.start, r.end, e.seq,
                                               r.freed_tables};
}

void StateModel::OnFlushFunc(const CEvent& e, VcpuModel& v) {
  const FlushFuncF& f = e.flush_func;
  MmModel& m = Mm(f.mm);
  ++v.flush_funcs;
  m.tlb_gen = std::max(m.tlb_gen, f.mm_gen);
  m.gen_seen = true;
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
}

void StateModel::OnFlushDone(const CEvent& e) {
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
    if (f.outstanding() == 0) m.flushes.erase(m.flushes.begin() + i);
    return;
  }
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
    // Newer than every request seen (mod 2^32): one not in yet.
    const auto ahead = static_cast<int32_t>(static_cast<uint32_t>(want) -
                                            static_cast<uint32_t>(m.max_request_gen));
    if (from_ipi && ahead > 0) {
      constexpr size_t kMaxEarlyAcks = 64;
      if (m.early_acks.size() >= kMaxEarlyAcks) m.early_acks.erase(m.early_acks.begin());
      m.early_acks.push_back({static_cast<uint32_t>(want), e.vcpu, e.seq, e.host_ns});
      return;
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

// The early acks of request `f`, just in: acknowledged now, at the
// request's own time at the earliest (a latency is not negative).
void StateModel::ApplyEarlyAcks(MmModel& m, PendingFlush& f) {
  std::erase_if(m.early_acks, [&f](const MmModel::EarlyAck& a) {
    if (a.gen != static_cast<uint32_t>(f.gen) || !(f.unacked() & Bit(a.vcpu))) return false;
    f.acked |= Bit(a.vcpu);
    f.last_ack_ns = std::max(a.ns, f.request_ns);
    f.last_ack_seq = std::max(a.seq, f.last_ack_seq);
    return true;
  });
}

void StateModel::AckOne(const CEvent& e, MmModel& m, PendingFlush* pick) {
  pick->acked |= Bit(e.vcpu);
  pick->last_ack_ns = e.host_ns;
  pick->last_ack_seq = e.seq;
  notes_.acked = *pick;
  if (pick->done && pick->outstanding() == 0) {
    m.flushes.erase(m.flushes.begin() + (pick - m.flushes.data()));
  }
}

}  // namespace tlbscope::collect
