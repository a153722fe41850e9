// ___pte_free_tlb(tlb, pte_page), ___pmd_free_tlb(tlb, pmd),
// ___pud_free_tlb(tlb, pud), ___p4d_free_tlb(tlb, p4d): free_pgtables()
// unlinked a page table and hands it to the gather, which frees it after
// its flush (x86: through tlb_remove_table, RCU-deferred with PARAVIRT).
// The entry notes it with the gather; tlb_finish_mmu's return emits one
// page_table_free per table, covered by the flush the gather made
// (tlb_finish_probe.cc). Which levels exist depends on the kernel's
// CONFIG_PGTABLE_LEVELS: each probe is optional.
#include "introspect/probes/probe.h"

namespace tlbscope::introspect {
namespace {

class TableFreeProbe : public Probe {
 public:
  TableFreeProbe(const char* function, uint32_t level) : function_(function), level_(level) {}
  const char* function() const override { return function_; }
  bool optional() const override { return true; }

  void OnEntry(ProbeEnv& env, KernelState&, uint32_t, const ProbeRegs& r) override {
    env.Frees(r.arg[0]).AddTable(r.arg[1], level_);
  }

 private:
  const char* function_;
  uint32_t level_;
};

}  // namespace

std::vector<std::unique_ptr<Probe>> MakeTableFreeProbes() {
  std::vector<std::unique_ptr<Probe>> out;
  out.push_back(std::make_unique<TableFreeProbe>("___pte_free_tlb", 1));
  out.push_back(std::make_unique<TableFreeProbe>("___pmd_free_tlb", 2));
  out.push_back(std::make_unique<TableFreeProbe>("___pud_free_tlb", 3));
  out.push_back(std::make_unique<TableFreeProbe>("___p4d_free_tlb", 4));
  return out;
}

}  // namespace tlbscope::introspect
