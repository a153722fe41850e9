#include "collectors/flow_tracker.h"

namespace tlbscope::collect {

void FlowTracker::Start(std::map<uint64_t, std::vector<Step>>* m, uint64_t id, Step s) {
  (*m)[id] = {s};
  if (m->size() > kMaxPending) {
    m->erase(m->begin());
    ++dropped_;
  }
}

void FlowTracker::Finish(std::map<uint64_t, std::vector<Step>>* m, FlowKind k, uint64_t id, Step s,
                         std::vector<Flow>* done) {
  auto it = m->find(id);
  if (it == m->end()) return;
  it->second.push_back(s);
  done->push_back(Flow{k, id, std::move(it->second)});
  m->erase(it);
}

void FlowTracker::OnEvent(const CEvent& e, int64_t ns, const ApplyNotes& notes,
                          std::vector<Flow>* done) {
  uint32_t v = e.vcpu;
  if (v >= kMaxVcpus) return;
  if (v >= last_request_.size()) last_request_.resize(v + 1);
  Step here{v, ns};
  switch (e.kind) {
    case Kind::kFlushRequest: {
      LastRequest& r = last_request_[v];
      r = {e.seq, e.flush_request.targets, 0};
      for (uint32_t t = 0; t < 64; ++t) {
        if (r.targets & (1ull << t)) Start(&shootdown_, (e.seq << 6) | t, here);
      }
      break;
    }
    case Kind::kIpiSent: {
      LastRequest& r = last_request_[v];
      CpuMask step = e.ipi_sent.targets & r.targets & ~r.stepped;
      r.stepped |= step;
      for (uint32_t t = 0; t < 64; ++t) {
        if (!(step & (1ull << t))) continue;
        auto it = shootdown_.find((r.id << 6) | t);
        if (it != shootdown_.end()) it->second.push_back(here);
      }
      break;
    }
    case Kind::kFlushFunc:
      if (notes.acked) {
        uint64_t id = (notes.acked->id << 6) | v;
        Finish(&shootdown_, FlowKind::kShootdown, id, here, done);
        Start(&ack_, id, here);
      }
      break;
    case Kind::kFlushDone:
      if (notes.completed) {
        for (uint32_t t = 0; t < 64; ++t) {
          if (notes.completed->acked & (1ull << t)) {
            Finish(&ack_, FlowKind::kAck, (notes.completed->id << 6) | t, here, done);
          }
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace tlbscope::collect
