#include "collectors/collector.h"

namespace tlbscope::collect {

Collector::Collector() : invariants_(MakeInvariants()) {
  for (const InvariantInfo& i : InvariantCatalog()) per_invariant_[i.name] = 0;
}

void Collector::SetHeader(const v1::TraceHeader& header) {
  header_ = header;
  auto on = [](const std::string& strategy) { return !strategy.empty() && strategy != "none"; };
  const v1::TrapPlan& t = header.traps();
  state_.set_trapping({on(t.cr3()), on(t.invlpg()), on(t.invpcid())});
}

void Collector::Observe(const CEvent& e) {
  if (any_ && e.seq > next_seq_) gaps_ += e.seq - next_seq_;
  any_ = true;
  next_seq_ = e.seq + 1;
  for (auto& inv : invariants_) inv->Check(e, state_, *this);
  const ApplyNotes& notes = state_.Apply(e);
  stats_.Observe(e, notes);
  for (EventObserver* o : observers_) o->OnEvent(e, state_, notes);
}

void Collector::Finish(bool complete) {
  if (finished_) return;
  finished_ = true;
  complete_ = complete;
  for (auto& inv : invariants_) inv->Finish(state_, complete, *this);
}

void Collector::Report(Violation v) {
  ++violation_count_;
  ++per_invariant_[v.invariant];
  if (on_violation_) on_violation_(v);
  for (EventObserver* o : observers_) o->OnViolation(v);
  if (violations_.size() < kKeptViolations) violations_.push_back(std::move(v));
}

}  // namespace tlbscope::collect
