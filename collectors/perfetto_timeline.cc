#include "collectors/perfetto_timeline.h"

#include <algorithm>

#include "collectors/perfetto_export.h"

namespace tlbscope::collect {

void Timeline::OnEvent(const CEvent& e, const StateModel& after, const ApplyNotes& notes) {
  uint32_t v = e.vcpu;
  if (v >= kMaxVcpus) return;
  if (!started_) {
    started_ = true;
    first_ns_ = last_ns_ = e.host_ns;
  }
  int64_t ns = std::max(e.host_ns, last_ns_);  // never back in time on the sequence
  last_ns_ = ns;
  if (v >= held_.size()) {
    held_.resize(v + 1);
    named_.resize(v + 1);
  }
  if (!named_[v]) {
    named_[v] = true;
    sink_->NewVcpu(v);
  }
  Held& h = held_[v];
  if (h.valid) {
    sink_->Slice(v, h.e, std::clamp<int64_t>(ns - h.e.host_ns, 0, kSliceNs), h.name,
                 std::move(h.args));
  }
  h.valid = true;
  h.e = e;
  h.e.host_ns = ns;
  h.name = DescribeEvent(e, &h.args);
  // Flows: request -> IPI -> flush_tlb_func (shootdown), flush_tlb_func ->
  // flush_done (ack), each written once it is complete.
  done_.clear();
  flows_.OnEvent(e, ns, notes, &done_);
  for (const FlowTracker::Flow& f : done_) {
    for (size_t i = 0; i < f.steps.size(); ++i) sink_->FlowStep(f, i);
  }
  Counters(e, ns, after);
}

void Timeline::Counters(const CEvent& e, int64_t ns, const StateModel& after) {
  switch (e.kind) {
    case Kind::kFlushRequest:
      if (const MmModel* m = after.mm(e.flush_request.mm); m != nullptr) {
        sink_->MmGen(m->ctx_id, ns, m->tlb_gen);
      }
      return;
    case Kind::kFlushFunc:
    case Kind::kContextSwitch:
      if (const VcpuModel* vm = after.vcpu(e.vcpu);
          vm != nullptr && !(e.kind == Kind::kContextSwitch && e.cs.raw)) {
        sink_->VcpuGen(e.vcpu, ns, vm->slot().tlb_gen);
      }
      return;
    default:
      return;
  }
}

void Timeline::Finish() {
  for (uint32_t v = 0; v < held_.size(); ++v) {
    if (held_[v].valid)
      sink_->Slice(v, held_[v].e, kSliceNs, held_[v].name, std::move(held_[v].args));
    held_[v].valid = false;
  }
}

}  // namespace tlbscope::collect
