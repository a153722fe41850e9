// flush-done-before-acks.
//
// Linux: flush_tlb_mm_range() -> on_each_cpu_cond_mask(..., wait=true):
// the initiator returns only after every CPU it asked has run
// flush_tlb_func. Until then the unmapped pages and their dirty bits are
// still in use remotely; an asynchronous flush (seed 001) lets the caller
// free a page or read its dirty bit before the remote flush ran.
#include "absl/strings/str_format.h"
#include "collectors/invariant.h"

namespace tlbscope::collect {
namespace {

std::vector<uint32_t> Cpus(CpuMask m) {
  std::vector<uint32_t> out;
  for (uint32_t c = 0; c < 64; ++c) {
    if (m & (1ull << c)) out.push_back(c);
  }
  return out;
}

std::string CpuList(CpuMask m) {
  std::string s;
  for (uint32_t c : Cpus(m)) absl::StrAppendFormat(&s, "%s%d", s.empty() ? "" : ",", c);
  return s.empty() ? "none" : s;
}

class FlushDoneInvariant : public Invariant {
 public:
  uint64_t Kinds() const override { return KindBit(Kind::kFlushDone); }
  void Check(const CEvent& e, const StateModel& before, ViolationSink& out) override {
    if (e.kind != Kind::kFlushDone) return;
    const FlushDoneF& d = e.flush_done;
    const MmModel* m = before.mm(d.mm);
    if (m == nullptr) return;
    for (const PendingFlush& f : m->flushes) {
      if (f.gen != d.tlb_gen || f.initiator != e.vcpu || f.done) continue;
      CpuMask missing = f.outstanding();
      CpuMask unclaimed = f.targets & ~d.acked;
      if (missing == 0 && unclaimed == 0) return;
      Violation v;
      v.invariant = "flush-done-before-acks";
      v.vcpus = {e.vcpu};
      for (uint32_t c : Cpus(missing | unclaimed)) {
        if (c != e.vcpu) v.vcpus.push_back(c);
      }
      v.mm = d.mm;
      v.gens = {{"tlb_gen", d.tlb_gen}};
      v.SetWindow(f.id, e.seq);
      v.message = absl::StrFormat(
          "flush of mm %d to gen %d (targets %s) completed on vcpu %d while %s had not run "
          "flush_tlb_func (the initiator reported acks from %s)",
          d.mm, d.tlb_gen, CpuList(f.targets), e.vcpu, CpuList(missing | unclaimed),
          CpuList(d.acked));
      out.Report(std::move(v));
      return;
    }
  }
};

}  // namespace

std::unique_ptr<Invariant> MakeFlushDoneInvariant() {
  return std::make_unique<FlushDoneInvariant>();
}

}  // namespace tlbscope::collect
