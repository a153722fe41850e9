#include "collectors/invariant.h"

namespace tlbscope::collect {

const std::vector<InvariantInfo>& InvariantCatalog() {
  static const std::vector<InvariantInfo> kCatalog = {
      {"user-return-stale-gen",
       "a vCPU returned to user mode in mm M with a local gen below M's gen as of a completed "
       "flush"},
      {"table-freed-while-walkable",
       "a page-table page was freed while a vCPU could still walk it (its CR3 still the mm's, "
       "loaded or lazy, not flushed since the unlink)"},
      {"page-freed-while-mapped",
       "a user page was freed while a non-lazy vCPU running the mm had not flushed its "
       "translation"},
      {"flush-done-before-acks",
       "a flush request completed before every target ran flush_tlb_func"},
      {"lam-mismatch", "a vCPU's LAM differs from its mm's after a switch or on return to user"},
      {"nested-gather-underflush",
       "a nested mmu_gather flushed less than the union of the in-flight gathers' ranges, or "
       "without freed_tables"},
      {"flush-without-instruction",
       "a flush the guest claims has no CR3 write / INVLPG / INVPCID on that vCPU"},
      {"cr3-write-unannounced",
       "a trapped CR3 write does not match the context_switch the guest announced before it"},
      {"unlazy-without-sync-core",
       "a lazy vCPU returned to user mode in a membarrier SYNC_CORE mm without a serializing "
       "instruction"},
      {"stale-read-observed",
       "a user task read a page's old data after the kernel believed the flush complete"},
  };
  return kCatalog;
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
