#include "introspect/layout.h"

namespace tlbscope::introspect {

const std::vector<FieldRequest>& FieldRequests() {
  using L = KernelLayout;
  static const std::vector<FieldRequest> kRequests = {
      {"mm_struct", "pgd", &L::mm_pgd, true},
      {"mm_struct", "context.ctx_id", &L::mm_ctx_id, true},
      {"mm_struct", "context.tlb_gen", &L::mm_tlb_gen, true},
      {"mm_struct", "tlb_flush_pending", &L::mm_tlb_flush_pending, false},
      {"mm_struct", "cpu_bitmap", &L::mm_cpu_bitmap, false},
      {"mm_struct", "membarrier_state", &L::mm_membarrier_state, false},
      {"mm_struct", "context.lam_cr3_mask", &L::mm_lam_cr3_mask, false},
      {"mm_struct", "context.untag_mask", &L::mm_untag_mask, false},
      {"tlb_state", "loaded_mm", &L::ts_loaded_mm, true},
      {"tlb_state", "loaded_mm_asid", &L::ts_loaded_mm_asid, true},
      {"tlb_state", "next_asid", &L::ts_next_asid, false},
      {"tlb_state", "ctxs", &L::ts_ctxs, true},
      {"tlb_context", "ctx_id", &L::tc_ctx_id, true},
      {"tlb_context", "tlb_gen", &L::tc_tlb_gen, true},
      {"tlb_state_shared", "is_lazy", &L::tss_is_lazy, true},
      {"flush_tlb_info", "mm", &L::fi_mm, true},
      {"flush_tlb_info", "start", &L::fi_start, true},
      {"flush_tlb_info", "end", &L::fi_end, true},
      {"flush_tlb_info", "new_tlb_gen", &L::fi_new_tlb_gen, true},
      {"flush_tlb_info", "initiating_cpu", &L::fi_initiating_cpu, false},
      {"flush_tlb_info", "stride_shift", &L::fi_stride_shift, true},
      {"flush_tlb_info", "freed_tables", &L::fi_freed_tables, true},
      // Kernels with should_flush_tlb() (6.13, and 6.12 stable) have it.
      {"flush_tlb_info", "trim_cpumask", &L::fi_trim_cpumask, false},
      {"mmu_gather", "mm", &L::mg_mm, true},
      {"mmu_gather", "start", &L::mg_start, true},
      {"mmu_gather", "end", &L::mg_end, true},
      {"mmu_gather", "fullmm", &L::mg_fullmm, false},
      {"mmu_gather", "freed_tables", &L::mg_freed_tables, false},
      {"alt_instr", "instr_offset", &L::ai_instr_offset, false},
      {"alt_instr", "repl_offset", &L::ai_repl_offset, false},
      {"alt_instr", "instrlen", &L::ai_instrlen, false},
      {"alt_instr", "replacementlen", &L::ai_replacementlen, false},
  };
  return kRequests;
}

}  // namespace tlbscope::introspect
