#pragma once

// What both Perfetto formats (perfetto_export.cc: JSON, perfetto_proto_export.cc:
// native protobuf) draw from the events, decided once: one track per vCPU
// named when it first speaks, a slice per event lasting until the vCPU's
// next event (at most kSliceNs), flows written once complete (FlowTracker),
// and counters for each mm's tlb_gen and each vCPU's local gen. Times never
// go back along the sequence. A format implements TimelineSink: how each
// of these is written.

#include <cstdint>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/flow_tracker.h"
#include "collectors/json.h"

namespace tlbscope::collect {

inline constexpr int64_t kSliceNs = 1000;  // slices last 1 us, or until the vCPU's next event

class TimelineSink {
 public:
  virtual ~TimelineSink() = default;
  virtual void NewVcpu(uint32_t v) = 0;
  // `e.host_ns` is the slice's start (on the timeline).
  // `args` (an object) is the sink's to keep.
  virtual void Slice(uint32_t v, const CEvent& e, int64_t dur_ns, const std::string& name,
                     Json args) = 0;
  // Step `i` of a complete flow (0: its start, the last: its end).
  virtual void FlowStep(const FlowTracker::Flow& f, size_t i) = 0;
  virtual void MmGen(uint64_t mm, int64_t ns, uint64_t tlb_gen) = 0;
  virtual void VcpuGen(uint32_t v, int64_t ns, uint64_t local_gen) = 0;
};

class Timeline {
 public:
  explicit Timeline(TimelineSink* sink) : sink_(sink) {}
  void OnEvent(const CEvent& e, const StateModel& after, const ApplyNotes& notes);
  // The slices still held (each vCPU's last event).
  void Finish();
  bool started() const { return started_; }
  int64_t first_ns() const { return first_ns_; }
  int64_t last_ns() const { return last_ns_; }

 private:
  struct Held {  // the last event of a vCPU, written when the next one gives its duration
    bool valid = false;
    CEvent e;
    std::string name;
    Json args;  // an object
  };
  void Counters(const CEvent& e, int64_t ns, const StateModel& after);

  TimelineSink* sink_;
  bool started_ = false;
  int64_t first_ns_ = 0, last_ns_ = 0;
  std::vector<Held> held_;
  std::vector<bool> named_;
  FlowTracker flows_;
  std::vector<FlowTracker::Flow> done_;
};

}  // namespace tlbscope::collect
