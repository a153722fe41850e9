#include <utility>

#include "collectors/invariant.h"

namespace tlbscope::collect {

const std::vector<InvariantInfo>& InvariantCatalog() {
  static const std::vector<InvariantInfo> kCatalog = {
      {"user-return-stale-gen",
       "a vCPU returned to user mode in mm M with a local gen below M's gen as of a completed "
       "flush",
       kNeedUserEntry},
      {"table-freed-while-walkable",
       "a page-table page was freed while a vCPU could still walk it (its CR3 still the mm's, "
       "loaded or lazy, not flushed since the unlink)",
       kNeedTableFree},
      {"page-freed-while-mapped",
       "a user page was freed while a non-lazy vCPU running the mm had not flushed its "
       "translation",
       kNeedPageFree},
      {"flush-done-before-acks", "a flush request completed before every target ran flush_tlb_func",
       kNeedGuestTlbEvents},
      {"lam-mismatch", "a vCPU's LAM differs from its mm's after a switch or on return to user",
       kNeedLam},
      {"nested-gather-underflush",
       "a nested mmu_gather flushed less than the union of the in-flight gathers' ranges, or "
       "without freed_tables",
       kNeedGuestTlbEvents},
      {"flush-without-instruction",
       "a flush the guest claims has no CR3 write / INVLPG / INVPCID on that vCPU",
       kNeedTrappedTlb},
      {"cr3-write-unannounced",
       "a trapped CR3 write does not match the context_switch the guest announced before it",
       kNeedTrappedCr3 | kNeedGuestTlbEvents},
      {"unlazy-without-sync-core",
       "a lazy vCPU returned to user mode in a membarrier SYNC_CORE mm without a serializing "
       "instruction",
       kNeedMembarrier | kNeedUserEntry},
      {"stale-read-observed",
       "a user task read a page's old data after the kernel believed the flush complete",
       kNeedStaleRead},
  };
  return kCatalog;
}

uint32_t SuppliedBy(const std::string& event_source, const std::vector<std::string>& linux_events) {
  if (event_source.empty() || event_source == "guest-rings") {
    return kNeedAllGuestFields | kNeedGuestTlbEvents;
  }
  // docs/events.md: a Linux guest's probes emit no user_exit or
  // stale_read; page_free, page_table_free, user_enter, membarrier_register
  // and sync_core, lam_set and the LAM fields where the trace header says
  // its probes were placed.
  if (event_source == "linux") {
    static constexpr std::pair<const char*, uint32_t> kExtra[] = {
        {"page_table_free", kNeedTableFree},
        {"page_free", kNeedPageFree},
        {"user_enter", kNeedUserEntry},
        {"membarrier", kNeedMembarrier},
        {"lam", kNeedLam},
    };
    uint32_t out = kNeedGuestTlbEvents;
    for (const std::string& e : linux_events) {
      for (const auto& [word, bit] : kExtra) {
        if (e == word) out |= bit;
      }
    }
    return out;
  }
  // "linux-trapped": no probes, so no event of the guest's own; an empty
  // stream of flushes must not pass for a clean one.
  return 0;
}

std::string MissingNeed(uint32_t needs, uint32_t supplied) {
  static constexpr std::pair<uint32_t, const char*> kWords[] = {
      {kNeedUserEntry, "user_enter/user_exit records"},
      {kNeedLam, "LAM bits (context_switch cpu_lam/mm_lam, lam_set)"},
      {kNeedPageFree, "page_free records"},
      {kNeedTableFree, "page_table_free records"},
      {kNeedMembarrier, "membarrier_register/sync_core records"},
      {kNeedStaleRead, "stale_read records"},
      {kNeedTrappedCr3, "trapped CR3 writes"},
      {kNeedTrappedTlb, "trapped TLB instructions"},
      {kNeedGuestTlbEvents,
       "the guest's TLB events (context switches, flush requests and flush_tlb_func, gathers)"},
  };
  for (const auto& [bit, words] : kWords) {
    if ((needs & bit) && !(supplied & bit)) return words;
  }
  return "";
}

std::vector<std::unique_ptr<Invariant>> MakeInvariants() {
  std::vector<std::unique_ptr<Invariant>> out;
  out.push_back(MakeUserReturnInvariant());
  out.push_back(MakeTableFreeInvariant());
  out.push_back(MakeFlushDoneInvariant());
  out.push_back(MakeLamInvariant());
  out.push_back(MakeGatherInvariant());
  out.push_back(MakeHardwareInvariant());
  out.push_back(MakeSyncCoreInvariant());
  return out;
}

}  // namespace tlbscope::collect
