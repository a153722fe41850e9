#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tlbscope::v1 {
class CollectorViolation;  // tlbscope/v1/run_result.pb.h
}

namespace tlbscope::collect {

// One lost-coherence finding: which rule, where, and the smallest window of
// the event stream (global sequence numbers) that shows it.
struct Violation {
  std::string invariant;  // e.g. "flush-done-before-acks" (InvariantCatalog)
  std::vector<uint32_t> vcpus;
  uint64_t mm = 0;
  std::vector<std::pair<std::string, uint64_t>> gens;  // e.g. {"local_gen", 3}
  uint64_t first_seq = 0, last_seq = 0;                // the window, inclusive
  std::vector<uint64_t> key_seqs;                      // the events in it that matter
  std::string message;                                 // one line, what happened

  // The window `first`..`last`, both its key events (one if they are the same).
  void SetWindow(uint64_t first, uint64_t last) {
    first_seq = first;
    last_seq = last;
    key_seqs = first == last ? std::vector<uint64_t>{last} : std::vector<uint64_t>{first, last};
  }
};

// "flush-done-before-acks mm 3 vcpus 0,1 gens tlb_gen=4 events 10..17 [10 17]: ..."
std::string FormatViolation(const Violation& v);

// The violation in its one schema (tlbscope.v1.CollectorViolation), as
// RunResult and the summary JSON carry it.
v1::CollectorViolation ViolationToProto(const Violation& v);

class ViolationSink {
 public:
  virtual ~ViolationSink() = default;
  virtual void Report(Violation v) = 0;
};

}  // namespace tlbscope::collect
