#include "introspect/probes/supplies.h"

#include <algorithm>
#include <initializer_list>

namespace tlbscope::introspect {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Every one of `all` the kernel has is placed, and the kernel has one.
bool AllFoundPlaced(const ProbeCoverage& c, std::initializer_list<const char*> all) {
  bool any = false;
  for (const char* f : all) {
    if (!Has(c.found, f)) continue;
    if (!Has(c.placed, f)) return false;
    any = true;
  }
  return any;
}

}  // namespace

std::vector<std::string> SuppliedEvents(const ProbeCoverage& c, const KernelLayout& layout) {
  std::vector<std::string> out;
  bool gathers = Has(c.placed, "tlb_gather_mmu") && Has(c.placed, "tlb_finish_mmu");
  if (gathers && Has(c.placed, "___pte_free_tlb") &&
      AllFoundPlaced(
          c, {"___pte_free_tlb", "___pmd_free_tlb", "___pud_free_tlb", "___p4d_free_tlb"})) {
    out.push_back("page_table_free");
  }
  if (gathers && AllFoundPlaced(c, {"__tlb_remove_folio_pages", "__tlb_remove_page_size"})) {
    out.push_back("page_free");
  }
  bool user =
      Has(c.placed, "syscall_exit_to_user_mode") && Has(c.placed, "irqentry_exit_to_user_mode");
  if (user) out.push_back("user_enter");
  if (user && Has(c.placed, "membarrier_register_private_expedited") &&
      layout.mm_membarrier_state.found && layout.membarrier_sync_core_state &&
      (c.sync_core_sites > 0 || c.no_sync_core_proven)) {
    out.push_back("membarrier");
  }
  // LAM: the mm's mask in the layout (CONFIG_ADDRESS_MASKING), the prctl
  // that sets it, and every return to user mode (lam_probe.cc).
  if (user && layout.mm_lam_cr3_mask.found && Has(c.placed, "do_arch_prctl_64")) {
    out.push_back("lam");
  }
  return out;
}

}  // namespace tlbscope::introspect
