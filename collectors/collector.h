#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/event.h"
#include "collectors/invariant.h"
#include "collectors/kernel_tally.h"
#include "collectors/state_check.h"
#include "collectors/state_model.h"
#include "collectors/stats.h"
#include "collectors/violation.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope::collect {

// Sees every event after the state model applied it (exporters).
class EventObserver {
 public:
  virtual ~EventObserver() = default;
  virtual void OnEvent(const CEvent& e, const StateModel& after, const ApplyNotes& notes) = 0;
  virtual void OnViolation(const Violation& /*v*/) {}
};

// The one code path every source feeds (replay, live, in-process): events
// in sequence order -> invariants (on the state before the event) -> state
// model -> stats and observers.
class Collector : private ViolationSink {
 public:
  static constexpr size_t kKeptViolations = 1000;  // the rest are counted

  Collector();

  // Also takes which instructions were trapped from the header's plan and
  // where the guest events come from (event_source).
  void SetHeader(const v1::TraceHeader& header);
  // Without a header: which instructions are trapped.
  void SetTrapping(const Trapping& t);
  // Without a header: TraceHeader.event_source ("guest-rings", "linux").
  void SetEventSource(const std::string& source, const std::vector<std::string>& linux_events = {});
  void SetEnd(const v1::TraceEnd& end) { end_ = end; }
  void AddObserver(EventObserver* o) { observers_.push_back(o); }
  // Called for each violation as it is found (live printing).
  void OnViolation(std::function<void(const Violation&)> f) { on_violation_ = std::move(f); }

  void Observe(const CEvent& e);
  void Observe(const v1::Event& e) { Observe(FromProto(e)); }
  // End of the stream; `complete`: it ended with its end record.
  void Finish(bool complete);

  const StateModel& state() const { return state_; }
  const Stats& stats() const { return stats_; }
  // The stream's counts the way Linux's /proc/vmstat nr_tlb_* counts.
  const KernelTally& kernel_tally() const { return kernel_tally_; }
  // A Linux stream: the model against the kernel's state at each return to
  // user mode (state_check.h).
  const StateCheck& state_check() const { return state_check_; }
  const std::vector<Violation>& violations() const { return violations_; }
  uint64_t violation_count() const { return violation_count_; }
  const std::map<std::string, uint64_t>& per_invariant() const { return per_invariant_; }
  // The invariants this stream cannot check (their Need is not supplied by
  // its event source or trapping), name -> why; their reports are dropped.
  const std::map<std::string, std::string>& not_checked() const { return not_checked_; }
  const std::optional<v1::TraceHeader>& header() const { return header_; }
  const std::optional<v1::TraceEnd>& end() const { return end_; }
  uint64_t events() const { return stats_.events; }
  uint64_t sequence_gaps() const { return gaps_; }  // missing sequences (filters, loss)
  bool finished() const { return finished_; }
  bool complete() const { return complete_; }

 private:
  void Report(Violation v) override;
  void UpdateNotChecked();

  StateModel state_;
  Stats stats_;
  KernelTally kernel_tally_;
  StateCheck state_check_;
  std::vector<std::unique_ptr<Invariant>> invariants_;
  std::array<std::vector<Invariant*>, 64> by_kind_;  // the invariants each kind goes to
  std::vector<EventObserver*> observers_;
  std::function<void(const Violation&)> on_violation_;
  std::vector<Violation> violations_;
  uint64_t violation_count_ = 0;
  std::map<std::string, uint64_t> per_invariant_;
  std::string event_source_;
  std::vector<std::string> linux_events_;
  std::map<std::string, std::string> not_checked_;
  std::optional<v1::TraceHeader> header_;
  std::optional<v1::TraceEnd> end_;
  bool any_ = false;
  uint64_t next_seq_ = 0, gaps_ = 0;
  bool finished_ = false, complete_ = false;
};

}  // namespace tlbscope::collect
