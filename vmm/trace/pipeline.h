#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tlbscope/probe_abi.h"
#include "tlbscope/v1/trace.pb.h"
#include "vmm/trace/event_ring.h"
#include "vmm/trace/trace_clock.h"

namespace tlbscope {

// Where the sequencer delivers events, in global order, from its thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnEvents(const std::vector<v1::Event>& events) = 0;
  virtual void OnEnd(const v1::TraceEnd& end) = 0;
  // The run's header, before any event (MachineConfig::extra_sinks only).
  virtual void OnHeader(const v1::TraceHeader& /*header*/) {}
};

// guest -> trap -> per-vCPU ring -> sequencer -> sinks (recorder, gRPC).
// Each vCPU thread appends to its own ring; the sequencer thread merges
// them by host time, numbers them, and hands batches to the sinks. An event
// is released only when no vCPU can still append one stamped earlier (each
// ring publishes the time of the append it has in progress), so the global
// order is the time order. A vCPU waits only if its own ring is full,
// never on a sink.
class TracePipeline {
 public:
  // `clock`: the TSC and host clock (tests pass a fake one).
  explicit TracePipeline(int num_vcpus, size_t ring_capacity = 1 << 16,
                         const TraceClock& clock = RealTraceClock());
  ~TracePipeline();

  void AddSink(EventSink* sink);  // before Start()
  void Start();
  // From vCPU `vcpu`'s own thread: fills vcpu and host time (stamped here,
  // whatever the event carried, so the order argument holds).
  void Append(int vcpu, v1::Event event);
  // A guest's own event ring (probe_abi.h), in guest memory that outlives
  // the pipeline's sequencer; drained with the vCPU rings. `nslots` is the
  // slot count validated at registration (a power of two): the pipeline
  // keeps it and its own consumer index, and trusts nothing else in the
  // header. A ring whose head runs backwards or more than nslots ahead of
  // the consumer is hostile: it is reported once on stderr and no longer
  // drained (what was drained before stays in the trace).
  void AddGuestRing(int vcpu, tlbscope_ring* ring, uint32_t nslots);
  // One sequencer pass on the caller's thread, for tests that drive the
  // pipeline without Start().
  void DrainOnce() { Drain(false); }
  // After every vCPU thread has stopped: delivers the rest, then `end`.
  void Finish(v1::TraceEnd end);

  struct Counters {
    uint64_t events = 0;
    uint64_t guest_rings_refused = 0;  // rings found corrupt and no longer drained
    std::map<uint32_t, uint64_t> per_vcpu;
    std::map<std::string, uint64_t> per_kind;
  };
  Counters counters() const;

  static int64_t NowNs();

 private:
  void Run();
  void Drain(bool all);

  std::vector<std::unique_ptr<EventRing<v1::Event>>> rings_;
  // Per ring: a time at or before the stamp of the append in progress, or
  // INT64_MAX when none is.
  std::vector<std::unique_ptr<std::atomic<int64_t>>> appending_since_;
  struct GuestRing {
    int vcpu;
    tlbscope_ring* ring;  // guest memory: read head/writing_tsc/slots, write tail
    uint32_t nslots;      // host copy, validated at registration
    uint64_t tail = 0;    // host-owned consumer index
    bool refused = false;
  };
  void DrainGuestRings();
  void RefuseGuestRing(GuestRing& g, uint64_t head);  // says so once
  // Records [g.tail, head) into pending_, dated by `now` (read after head).
  void CopyGuestRecords(GuestRing& g, uint64_t head, const TscNsPair& now);
  // Merges pending_[run_begin, end), one source's events, into the sorted rest.
  void MergeRun(size_t run_begin);
  // Host time of a guest TSC value, by the calibration from the start.
  int64_t GuestTscToNs(uint64_t tsc, uint64_t tsc1, int64_t ns1) const;
  // No event newer than a record a guest is writing now may be released.
  int64_t GuestWritingCutoff();

  const TraceClock& clock_;
  std::vector<uint64_t> vcpu_seq_;  // sequencer thread only
  std::mutex guest_rings_mu_;
  std::vector<GuestRing> guest_rings_;
  std::vector<uint64_t> guest_heads_;  // DrainGuestRings' snapshot, kept for its capacity
  // Guest TSC -> host time: the guest TSC is the host TSC plus KVM's offset,
  // 0 on the hosts seen so far; a calibration pair from the start.
  uint64_t tsc0_ = 0;
  int64_t ns0_ = 0;
  std::vector<EventSink*> sinks_;
  std::vector<v1::Event> pending_;  // sequencer thread only
  std::vector<v1::Event> batch_;    // sequencer thread only: the last batch released
  uint64_t next_sequence_ = 0;      // sequencer thread only
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex counters_mu_;
  Counters counters_;                           // per_kind filled in by counters(), from:
  std::array<uint64_t, 64> per_kind_number_{};  // by Event.kind field number (0: other)
};

// "cr3_write", "guest_log", ... (the oneof field name).
std::string EventKindName(const v1::Event& e);

// Host time of a guest TSC stamp, by the calibration pairs (tsc0, ns0) and
// (tsc1, ns1) (ns1 >= 0): at most ns1 (a stamp from the future is now), at
// least 0, whatever the guest wrote and however coarse the calibration.
int64_t GuestTscToHostNs(uint64_t tsc, uint64_t tsc0, int64_t ns0, uint64_t tsc1, int64_t ns1);

}  // namespace tlbscope
