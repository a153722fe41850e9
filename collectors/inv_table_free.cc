// table-freed-while-walkable, page-freed-while-mapped.
//
// Linux (mm/mmu_gather.c, arch/x86/mm/tlb.c): a page-table page may be
// freed only after every CPU that could walk it has flushed its
// paging-structure caches: flush_tlb_mm_range(freed_tables=true) IPIs the
// whole mm_cpumask, lazy CPUs included, and a lazy CPU then switches to
// init_mm (no-PCID x86 keeps lazy CPUs in the cpumask for exactly this).
// A CPU whose CR3 still points at the mm and whose local gen is below the
// flush that covered the unlink can speculatively walk the freed table
// (seed 000). A user page may be freed only after every CPU running the
// mm (not lazy) flushed it (seed 001's async flush breaks this).
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "collectors/invariant.h"

namespace tlbscope::collect {
namespace {

std::string PageWords(const PageFreeF& p) {
  if (p.address == 0 && p.physical_address == 0 && p.kernel_page != 0) {
    return absl::StrFormat("page (struct page %#x)", p.kernel_page);
  }
  return absl::StrFormat("page %#x (phys %#x)", p.address, p.physical_address);
}

class TableFreeInvariant : public Invariant {
 public:
  uint64_t Kinds() const override {
    return KindBit(Kind::kPageTableFree) | KindBit(Kind::kPageFree);
  }
  void Check(const CEvent& e, const StateModel& before, ViolationSink& out) override {
    if (e.kind == Kind::kPageTableFree) {
      const PageTableFreeF& f = e.pt_free;
      CheckFree(e, before, out, f.mm, f.covering_tlb_gen, /*table=*/true);
    } else if (e.kind == Kind::kPageFree) {
      const PageFreeF& f = e.page_free;
      CheckFree(e, before, out, f.mm, f.covering_tlb_gen, /*table=*/false);
    }
  }

 private:
  void CheckFree(const CEvent& e, const StateModel& before, ViolationSink& out, uint64_t mm,
                 uint64_t covering, bool table) {
    const MmModel* m = before.mm(mm);
    uint64_t required = covering == 0 ? ~0ull : covering;
    const auto& vcpus = before.vcpus();
    for (uint32_t c = 0; c < vcpus.size(); ++c) {
      const VcpuModel& vc = vcpus[c];
      if (!before.CanWalk(c, mm)) continue;
      if (!table && (vc.lazy || vc.loaded_mm != mm)) continue;
      uint64_t local = vc.LocalGen(mm).value_or(0);
      if (local >= required) continue;
      // A switch into the mm after the freeing gather began may have read
      // the new gen already (inc_mm_tlb_gen precedes the request's record):
      // its CR3 write then came after the unmap. Unproven either way until
      // the guest reports that CPU's gen; not reported.
      if (vc.slot_unconfirmed && m != nullptr) {
        uint64_t since = e.seq;
        for (const ActiveGather& g : m->gathers) {
          if (g.vcpu == e.vcpu) since = std::min(since, g.seq);
        }
        if (vc.slot_seq > since) continue;
      }
      // One report per vCPU, mm and covering flush (a gather frees many).
      if (!reported_.insert({table, c, mm, covering}).second) continue;
      if (reported_.size() > 4096) reported_.clear();
      std::string what =
          table ? absl::StrFormat("level-%d table %#x", e.pt_free.level, e.pt_free.table_address)
                : PageWords(e.page_free);
      Violation v;
      v.invariant = table ? "table-freed-while-walkable" : "page-freed-while-mapped";
      v.vcpus = {c};
      if (c != e.vcpu) v.vcpus.push_back(e.vcpu);
      v.mm = mm;
      v.gens = {{"local_gen", local}, {"covering_gen", covering}};
      if (m != nullptr) v.gens.push_back({"mm_gen", m->tlb_gen});
      const RecentFlush* r = m != nullptr ? m->FindRecent(covering) : nullptr;
      v.first_seq = r != nullptr ? r->seq : e.seq;
      if (vc.lazy && vc.lazy_seq != 0 && vc.lazy_seq < v.first_seq) v.first_seq = vc.lazy_seq;
      v.last_seq = e.seq;
      if (vc.lazy && vc.lazy_seq != 0) v.key_seqs.push_back(vc.lazy_seq);
      if (r != nullptr) v.key_seqs.push_back(r->seq);
      v.key_seqs.push_back(e.seq);
      v.message = absl::StrFormat(
          "vcpu %d freed %s covered by gen %d while vcpu %d (%s, CR3 root %#x) is at local "
          "gen %d%s",
          e.vcpu, what, covering, c, vc.lazy ? "lazy" : "running the mm", vc.root, local,
          m != nullptr && !(m->cpumask & (1ull << c)) ? " and not in the cpumask" : "");
      out.Report(std::move(v));
    }
  }

  struct Key {
    bool table;
    uint32_t vcpu;
    uint64_t mm, gen;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.table, k.vcpu, k.mm, k.gen);
    }
  };
  absl::flat_hash_set<Key> reported_;
};

}  // namespace

std::unique_ptr<Invariant> MakeTableFreeInvariant() {
  return std::make_unique<TableFreeInvariant>();
}

}  // namespace tlbscope::collect
