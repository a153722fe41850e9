#pragma once
// Which kinds of guest events beyond the base set (context switches, flush
// requests, flush_tlb_func, gathers) a Linux run's probes supply, so that a
// collector checks the invariants that need them and says "not checked" for
// the others (docs/events.md). Decided from what got a breakpoint.
#include <string>
#include <vector>

#include "introspect/layout.h"

namespace tlbscope::introspect {

struct ProbeCoverage {
  std::vector<std::string> found;    // functions the kernel has (the tracker's entries)
  std::vector<std::string> placed;   // functions that got their breakpoint
  int sync_core_sites = 0;           // serializing instructions with a breakpoint
  bool no_sync_core_proven = false;  // the function that would have them has none
};

// "page_table_free", "page_free", "user_enter", "membarrier" (membarrier_register
// and sync_core), "lam" (lam_set and the LAM fields of context_switch and
// user_enter), each when every probe it needs is placed; for sync_core, a
// breakpoint on each serializing instruction, or the proof that there is
// none; for lam, a kernel with mm->context.lam_cr3_mask.
std::vector<std::string> SuppliedEvents(const ProbeCoverage& c, const KernelLayout& layout);

}  // namespace tlbscope::introspect
