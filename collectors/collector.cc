#include "collectors/collector.h"

namespace tlbscope::collect {

Collector::Collector() : invariants_(MakeInvariants()) {
  for (const InvariantInfo& i : InvariantCatalog()) per_invariant_[i.name] = 0;
  for (auto& inv : invariants_) {
    for (int k = 0; k < 64; ++k) {
      if (inv->Kinds() & (1ull << k)) by_kind_[k].push_back(inv.get());
    }
  }
}

void Collector::SetHeader(const v1::TraceHeader& header) {
  header_ = header;
  event_source_ = header.event_source();
  linux_events_.assign(header.linux_events().begin(), header.linux_events().end());
  auto on = [](const std::string& strategy) { return !strategy.empty() && strategy != "none"; };
  const v1::TrapPlan& t = header.traps();
  SetTrapping({on(t.cr3()), on(t.invlpg()), on(t.invpcid())});
}

void Collector::SetTrapping(const Trapping& t) {
  state_.set_trapping(t);
  UpdateNotChecked();
}

void Collector::SetEventSource(const std::string& source,
                               const std::vector<std::string>& linux_events) {
  event_source_ = source;
  linux_events_ = linux_events;
  UpdateNotChecked();
}

void Collector::UpdateNotChecked() {
  const Trapping& t = state_.trapping();
  uint32_t supplied = SuppliedBy(event_source_, linux_events_) |
                      (t.cr3 ? uint32_t{kNeedTrappedCr3} : 0u) |
                      (t.cr3 || t.invlpg || t.invpcid ? uint32_t{kNeedTrappedTlb} : 0u);
  not_checked_.clear();
  for (const InvariantInfo& i : InvariantCatalog()) {
    uint32_t lacking = i.needs & ~supplied;
    if (lacking == 0) continue;
    std::string what = MissingNeed(i.needs, supplied);
    if (lacking & (kNeedAllGuestFields | kNeedGuestTlbEvents)) {
      std::string who = event_source_ == "linux" ? "a Linux guest's probes do"
                        : event_source_ == "linux-trapped"
                            ? "a Linux run without its probes does"
                            : "event source '" + event_source_ + "' does";
      not_checked_[i.name] = "needs " + what + ", which " + who + " not supply (docs/events.md)";
    } else {
      not_checked_[i.name] = "needs " + what + ", not trapped in this run";
    }
  }
}

void Collector::Observe(const CEvent& e) {
  if (any_ && e.seq > next_seq_) gaps_ += e.seq - next_seq_;
  any_ = true;
  next_seq_ = e.seq + 1;
  for (Invariant* inv : by_kind_[static_cast<int>(e.kind) & 63]) inv->Check(e, state_, *this);
  if (event_source_ == "linux") state_check_.Observe(e, state_);
  const ApplyNotes& notes = state_.Apply(e);
  stats_.Observe(e, notes);
  kernel_tally_.Observe(e, notes);
  for (EventObserver* o : observers_) o->OnEvent(e, state_, notes);
}

void Collector::Finish(bool complete) {
  if (finished_) return;
  finished_ = true;
  complete_ = complete;
  for (auto& inv : invariants_) inv->Finish(state_, complete, *this);
}

void Collector::Report(Violation v) {
  if (not_checked_.contains(v.invariant)) return;  // it would be a guess
  ++violation_count_;
  ++per_invariant_[v.invariant];
  if (on_violation_) on_violation_(v);
  for (EventObserver* o : observers_) o->OnViolation(v);
  if (violations_.size() < kKeptViolations) violations_.push_back(std::move(v));
}

}  // namespace tlbscope::collect
