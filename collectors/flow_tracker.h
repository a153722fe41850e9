#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "collectors/event.h"
#include "collectors/state_model.h"

namespace tlbscope::collect {

// The shootdown flows of a trace, for the Perfetto exporters, handed out
// only once they are complete (so no exporter writes a flow that starts
// and never ends):
//   kShootdown: a flush_request, through the initiator's IPI to that target
//               (when it sent one), to the target's flush_tlb_func that
//               acknowledged the request; one flow per target.
//   kAck:       that flush_tlb_func, back to the initiator's flush_done.
// A flow whose last step never comes (the target never flushed, the
// flush_done came before its ack: what the invariants report) is dropped.
// Memory: the flows in flight, at most kMaxPending (the oldest go first).
class FlowTracker {
 public:
  enum class FlowKind { kShootdown, kAck };
  struct Step {
    uint32_t vcpu;
    int64_t ns;
  };
  struct Flow {
    FlowKind kind;
    uint64_t id;              // (request sequence << 6) | target vCPU; unique per kind
    std::vector<Step> steps;  // two or more, in stream order
  };
  static constexpr size_t kMaxPending = 1 << 16;

  // Feeds one event (host time `ns`); appends the flows it completes.
  void OnEvent(const CEvent& e, int64_t ns, const ApplyNotes& notes, std::vector<Flow>* done);

  size_t pending() const { return shootdown_.size() + ack_.size(); }
  uint64_t dropped() const { return dropped_; }
  static const char* Name(FlowKind k) { return k == FlowKind::kShootdown ? "shootdown" : "ack"; }

 private:
  struct LastRequest {
    uint64_t id = 0;
    CpuMask targets = 0, stepped = 0;
  };
  void Start(std::map<uint64_t, std::vector<Step>>* m, uint64_t id, Step s);
  void Finish(std::map<uint64_t, std::vector<Step>>* m, FlowKind k, uint64_t id, Step s,
              std::vector<Flow>* done);

  std::vector<LastRequest> last_request_;
  std::map<uint64_t, std::vector<Step>> shootdown_, ack_;
  uint64_t dropped_ = 0;
};

}  // namespace tlbscope::collect
