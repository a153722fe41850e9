// nested-gather-underflush.
//
// Linux (mm/mmu_gather.c, tlb_finish_mmu): when another mmu_gather of the
// same mm is in flight (mm_tlb_flush_nested(): tlb_flush_pending > 1),
// this gather cannot know which PTEs the other cleared (it may have seen
// them already none and skipped them), so it must flush the whole mm with
// freed_tables: `tlb->fullmm = 1; __tlb_reset_range(tlb);
// tlb->freed_tables = 1;`. The historical bug (seed 003) reset the range to
// the gather's own [start, end) with freed_tables = 0, missing the other
// gather's ranges and upper levels.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "collectors/invariant.h"

namespace tlbscope::collect {
namespace {

class GatherInvariant : public Invariant {
 public:
  uint64_t Kinds() const override { return KindBit(Kind::kGatherEnd); }
  void Check(const CEvent& e, const StateModel& before, ViolationSink& out) override {
    if (e.kind != Kind::kGatherEnd) return;
    const GatherEndF& g = e.gather_end;
    bool nested = g.nested || g.pending_seen > 1;
    if (!nested) return;
    const MmModel* m = before.mm(g.mm);
    if (m == nullptr) return;
    const ActiveGather* own = nullptr;
    for (const ActiveGather& a : m->gathers) {
      if (a.EndedBy(e.vcpu, g.gather)) own = &a;  // the latest that this one ends
    }
    uint64_t ustart = own != nullptr ? own->start : g.flushed_start;
    uint64_t uend = own != nullptr ? own->end : g.flushed_end;
    uint64_t first = own != nullptr ? own->seq : e.seq;
    std::vector<uint32_t> vcpus = {e.vcpu};
    std::vector<uint64_t> keys;
    if (own != nullptr) keys.push_back(own->seq);
    for (const ActiveGather& a : m->gathers) {
      if (&a == own) continue;
      ustart = std::min(ustart, a.start);
      uend = std::max(uend, a.end);
      first = std::min(first, a.seq);
      if (std::find(vcpus.begin(), vcpus.end(), a.vcpu) == vcpus.end()) vcpus.push_back(a.vcpu);
      keys.push_back(a.seq);
    }
    // What the flush did: the request it issued, else what the gather says.
    uint64_t fstart = g.flushed_start, fend = g.flushed_end;
    bool freed = g.freed_tables;
    const RecentFlush* r = g.flush_tlb_gen != 0 ? m->FindRecent(g.flush_tlb_gen) : nullptr;
    if (r != nullptr) {
      fstart = r->start;
      fend = r->end;
      freed = r->freed_tables;
      keys.push_back(r->seq);
    }
    bool flushed = g.flush_tlb_gen != 0;
    bool covers = flushed && (fend == kFlushAll || (fstart <= ustart && fend >= uend));
    if (covers && freed) return;
    std::sort(keys.begin(), keys.end());
    keys.push_back(e.seq);
    Violation v;
    v.invariant = "nested-gather-underflush";
    v.vcpus = vcpus;
    v.mm = g.mm;
    v.gens = {{"flush_tlb_gen", g.flush_tlb_gen}, {"pending_seen", g.pending_seen}};
    v.first_seq = first;
    v.last_seq = e.seq;
    v.key_seqs = keys;
    std::string what = !flushed ? std::string("flushed nothing")
                                : absl::StrFormat("flushed [%#x, %#x)%s", fstart, fend,
                                                  freed ? "" : " without freed_tables");
    v.message = absl::StrFormat(
        "nested gather on vcpu %d (tlb_flush_pending %d) %s; the in-flight gathers span "
        "[%#x, %#x) and a nested flush must be the whole mm with freed_tables",
        e.vcpu, g.pending_seen, what, ustart, uend);
    out.Report(std::move(v));
  }
};

}  // namespace

std::unique_ptr<Invariant> MakeGatherInvariant() { return std::make_unique<GatherInvariant>(); }

}  // namespace tlbscope::collect
