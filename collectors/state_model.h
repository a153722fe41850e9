#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/bounded_queue.h"
#include "collectors/event.h"

namespace tlbscope::collect {

inline constexpr uint64_t kInitMm = 1;     // init_mm's ctx_id
inline constexpr uint32_t kMaxVcpus = 64;  // CPU masks are 64 bits
inline constexpr uint64_t kCr3RootMask = 0x000ffffffffff000ull;
inline constexpr uint32_t kCallVector = 0x40;  // guest-probe's on_cpu call IPI (flushes use it)
// Linux x86's CALL_FUNCTION_VECTOR and CALL_FUNCTION_SINGLE_VECTOR (its flush IPIs).
inline constexpr uint32_t kLinuxCallVector = 0xfb, kLinuxCallSingleVector = 0xfa;
inline CpuMask Bit(uint32_t cpu) { return cpu < 64 ? 1ull << cpu : 0; }
inline bool IsCallVector(uint32_t v) {
  return v == kCallVector || v == kLinuxCallVector || v == kLinuxCallSingleVector;
}

// A flush_tlb_mm_range() call from its flush_request until every target
// acknowledged it (ran flush_tlb_func) and the initiator's flush_done.
struct PendingFlush {
  uint64_t id = 0;  // the flush_request's sequence
  uint64_t mm = 0, gen = 0, start = 0, end = 0;
  uint32_t stride_shift = 12;
  bool freed_tables = false;
  uint32_t initiator = 0;
  CpuMask targets = 0, acked = 0;
  CpuMask ipied = 0;      // targets the initiator has sent its call IPI
  CpuMask delivered = 0;  // targets that received an IPI after it was sent
  int64_t request_ns = 0, last_ack_ns = 0;
  uint64_t last_ack_seq = 0;
  bool done = false;  // flush_done seen (with acks missing, or it would be gone)
  uint64_t done_seq = 0;
  int64_t done_ns = 0;
  // Targets that switched away from the mm after the request without
  // acking it. Linux copies mm_cpumask only when it sends the IPIs, and a
  // CPU that left has cleared its bit by then (switch_mm_irqs_off): it is
  // not waited for, and reads tlb_gen when it comes back.
  CpuMask left = 0;
  bool full() const { return end == kFlushAll; }
  CpuMask unacked() const { return targets & ~acked; }       // may still ack it
  CpuMask outstanding() const { return unacked() & ~left; }  // must ack before flush_done
};

struct ActiveGather {
  uint32_t vcpu = 0;
  uint64_t start = 0, end = 0, seq = 0, pending = 0;
  uint64_t gather = 0;  // GatherStart.gather (0 = unknown)
  // Whether gather_end `e` (on `vcpu`) ends this one: the same gather, or
  // when that is unknown the vCPU's own.
  bool EndedBy(uint32_t end_vcpu, uint64_t end_gather) const {
    return gather != 0 ? gather == end_gather : vcpu == end_vcpu;
  }
};

struct RecentFlush {  // a flush request, kept briefly for gather cross-checks
  uint64_t gen = 0, start = 0, end = 0, seq = 0;
  bool freed_tables = false;
};

struct MmModel {
  uint64_t ctx_id = 0;
  uint64_t tlb_gen = 1;  // mm->context.tlb_gen: the highest gen seen
  // Whether an event has carried this mm's gen. Until one does, tlb_gen is
  // guest-probe's first gen (1); Linux starts a new mm at 0
  // (init_new_context()), and a fork child can return to user mode before
  // any flush of its mm: its first user_enter then tells the gens.
  bool gen_seen = false;
  CpuMask cpumask = 0;
  uint64_t lam = 0, untag_mask = 0;
  uint64_t lam_seq = 0;    // the lam_set's sequence, 0 if none
  uint64_t root = 0;       // the CR3 root the guest switched to for it
  bool sync_core = false;  // registered for membarrier SYNC_CORE
  uint64_t sync_core_seq = 0;
  uint64_t completed_gen = 0, completed_seq = 0;  // the newest flush_done
  std::vector<PendingFlush> flushes;              // oldest first
  std::vector<ActiveGather> gathers;
  std::array<RecentFlush, 16> recent{};  // by gen % 16
  uint64_t max_request_gen = 0;          // the newest flush_request's new_tlb_gen
  // flush_tlb_func runs from an IPI naming a request (its low 32 bits) that
  // is not in yet: Linux's flush_request record can come after the IPIs it
  // sent were served (a CPU left the mm between the mask the probe read and
  // the mask the kernel asked). Acknowledged when it comes; bounded.
  struct EarlyAck {
    uint32_t gen = 0, vcpu = 0;
    uint64_t seq = 0;
    int64_t ns = 0;
  };
  std::vector<EarlyAck> early_acks;
  uint64_t flush_requests = 0, page_frees = 0, table_frees = 0, stale_reads = 0;
  uint64_t dropped_flushes = 0;  // beyond the in-flight bound (a guest that never acks)

  const RecentFlush* FindRecent(uint64_t gen) const;
};

struct AsidSlot {  // cpu_tlbstate.ctxs[asid]
  uint64_t ctx_id = 0, tlb_gen = 0;
};

struct VcpuModel {
  bool seen = false;
  bool guest_events = false;  // its guest ring spoke: the cross-checks apply
  bool stopped = false;
  // From the trapped CR3 writes: the address space the hardware walks.
  bool hw_cr3_known = false;
  uint64_t cr3 = 0, root = 0;
  uint32_t pcid = 0;
  // From the guest's own events.
  uint64_t loaded_mm = 0;
  uint32_t asid = 0;
  std::array<AsidSlot, 8> slots{};
  // The slot's gen came from a switch (the gen the switch read is not in the
  // record: the model's mm gen stands in) at this sequence, and the guest
  // has not reported the CPU's gen since (user_enter, flush_func).
  bool slot_unconfirmed = false;
  uint64_t slot_seq = 0;
  bool lazy = false;
  uint64_t lazy_seq = 0;
  uint64_t lam = 0;
  bool user_mode = false;
  uint64_t user_mm = 0;
  uint32_t ipis_unserved = 0;  // call IPIs received whose flush_tlb_func has not run yet
  uint64_t last_request_mm = 0, last_request_id = 0;  // its newest flush_request
  // Call IPIs sent to this CPU for flush requests, not yet received: FIFO
  // (a guest that never receives them loses the oldest).
  struct IpiFor {
    uint64_t mm, id;
  };
  BoundedQueue<IpiFor> ipi_queue{64};
  uint64_t last_full_flush_seq = 0;
  bool any_full_flush = false;
  // Counts.
  uint64_t events = 0, cr3_writes = 0, invlpgs = 0, invpcids = 0, switches = 0, flush_funcs = 0,
           ipis_sent = 0, ipis_received = 0, user_enters = 0;

  const AsidSlot& slot() const { return slots[asid & 7]; }
  // The local gen of mm `mm` on this CPU, if its ASID slot holds it.
  std::optional<uint64_t> LocalGen(uint64_t mm) const;
};

// Which hardware events the stream carries (the trace header's trap plan):
// the cross-checks against the hardware apply only to trapped instructions.
struct Trapping {
  bool cr3 = true, invlpg = true, invpcid = true;
};

// What one event changed, for stats and exporters.
struct ApplyNotes {
  std::optional<PendingFlush> acked;      // the request a flush_func acknowledged (after the ack)
  std::optional<PendingFlush> completed;  // the request a flush_done finished
  uint32_t lazy_skipped = 0;              // flush_request: lazy CPUs of the cpumask left out
};

// Per-mm and per-vCPU TLB state rebuilt from the events, in sequence order.
// Memory: one entry per vCPU and per mm, plus in-flight flushes and
// gathers (bounded); nothing grows with the trace's length.
class StateModel {
 public:
  static constexpr size_t kMaxInFlightPerMm = 256;

  // Room for every vCPU up front: references into it stay valid in Apply.
  StateModel() { vcpus_.reserve(kMaxVcpus); }

  const ApplyNotes& Apply(const CEvent& e);

  const VcpuModel* vcpu(uint32_t v) const { return v < vcpus_.size() ? &vcpus_[v] : nullptr; }
  const MmModel* mm(uint64_t id) const;
  const std::vector<VcpuModel>& vcpus() const { return vcpus_; }
  const absl::flat_hash_map<uint64_t, MmModel>& mms() const { return mms_; }
  bool hw_cr3_seen() const { return hw_cr3_seen_; }
  const Trapping& trapping() const { return trapping_; }
  void set_trapping(const Trapping& t) { trapping_ = t; }

  // Can vCPU `v` still walk `mm`'s page tables? With trapped CR3 writes:
  // its CR3 root is the mm's; without: the mm is loaded (lazy or not).
  bool CanWalk(uint32_t v, uint64_t mm) const;
  // Requests vCPU `v` was asked to run and has not acknowledged.
  int PendingOn(uint32_t v) const;

 private:
  VcpuModel& Vcpu(uint32_t v);
  MmModel& Mm(uint64_t id);
  // One per event kind that changes more than a counter.
  void OnCr3Write(const CEvent& e, VcpuModel& v);
  void OnInvpcid(const CEvent& e, VcpuModel& v);
  void OnContextSwitch(const CEvent& e, VcpuModel& v);
  void LeaveFlushes(uint64_t mm, uint32_t vcpu);
  void OnUserEnter(const CEvent& e, VcpuModel& v);
  void OnGatherStart(const CEvent& e);
  void OnGatherEnd(const CEvent& e);
  void OnLamSet(const CEvent& e);
  void OnMembarrierRegister(const CEvent& e);
  void OnIpiSent(const CEvent& e, VcpuModel& v);
  void OnIpiReceived(const CEvent& e, VcpuModel& v);
  void OnFlushRequest(const CEvent& e, VcpuModel& v);
  void OnFlushFunc(const CEvent& e, VcpuModel& v);
  void OnFlushDone(const CEvent& e);
  void Ack(const CEvent& e, MmModel& m, bool from_ipi);
  void AckOne(const CEvent& e, MmModel& m, PendingFlush* pick);
  static void ApplyEarlyAcks(MmModel& m, PendingFlush& f);

  std::vector<VcpuModel> vcpus_;
  absl::flat_hash_map<uint64_t, MmModel> mms_;
  bool hw_cr3_seen_ = false;
  Trapping trapping_;
  ApplyNotes notes_;
};

}  // namespace tlbscope::collect
