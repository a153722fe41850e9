#pragma once
// The facts about a kernel's TLB code that the probes need: struct member
// offsets, per-CPU variable offsets and function addresses. Filled at run
// time from the kernel's BTF or DWARF and its symbols; never hard-coded.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tlbscope::introspect {

// A member's place: byte offset from the struct's start, and for a bitfield
// its bit offset within that byte and width (0 = not a bitfield).
struct Field {
  uint32_t offset = 0;
  uint8_t bit = 0;
  uint8_t bits = 0;
  uint32_t size = 0;   // bytes of the member's type (of the unit, for a bitfield)
  bool found = false;  // the kernel has this member
};

struct KernelLayout {
  // struct mm_struct
  Field mm_pgd, mm_ctx_id, mm_tlb_gen, mm_tlb_flush_pending, mm_cpu_bitmap, mm_membarrier_state;
  // mm->context.lam_cr3_mask and .untag_mask: only with CONFIG_ADDRESS_MASKING.
  Field mm_lam_cr3_mask, mm_untag_mask;
  // struct tlb_state (per-CPU cpu_tlbstate), struct tlb_context
  Field ts_loaded_mm, ts_loaded_mm_asid, ts_next_asid, ts_ctxs;
  uint32_t ts_ctxs_count = 0;
  uint32_t tlb_context_size = 0;
  Field tc_ctx_id, tc_tlb_gen;
  // struct tlb_state_shared (per-CPU cpu_tlbstate_shared)
  Field tss_is_lazy;
  // struct flush_tlb_info
  Field fi_mm, fi_start, fi_end, fi_new_tlb_gen, fi_initiating_cpu, fi_stride_shift,
      fi_freed_tables, fi_trim_cpumask;
  // struct mmu_gather
  Field mg_mm, mg_start, mg_end, mg_fullmm, mg_freed_tables;
  // struct alt_instr, the entries of .altinstructions: where each of the
  // kernel's alternatives goes (instr_offset, from the field's own address)
  // and what apply_alternatives() may copy there at boot (repl_offset,
  // replacementlen bytes of .altinstr_replacement). 0 size = unknown.
  Field ai_instr_offset, ai_repl_offset, ai_instrlen, ai_replacementlen;
  uint32_t alt_instr_size = 0;
  // Per-CPU variables: offsets in the per-CPU area.
  uint64_t pcpu_cpu_tlbstate = 0;
  bool has_pcpu_cpu_tlbstate = false;
  uint64_t pcpu_cpu_tlbstate_shared = 0;
  bool has_pcpu_cpu_tlbstate_shared = false;
  // sizeof(struct page): a struct page's index in the vmemmap is its pfn
  // (0 = unknown).
  uint32_t page_struct_size = 0;
  // MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE, the enumerator's value:
  // the bit of mm->membarrier_state finish_task_switch() tests.
  std::optional<uint64_t> membarrier_sync_core_state;
  // SYSTEM_SCHEDULING (enum system_states): once `system_state` holds it,
  // start_kernel() has done its one-time text patching (alternatives,
  // paravirt calls, retpolines, return thunks), so int3s placed from then
  // on are not overwritten or tripped over by it.
  std::optional<uint64_t> system_scheduling_state;
  // Where the layout came from: "BTF (.BTF section)", "BTF FILE", "DWARF".
  std::string source;
};

// One requested member: "struct_name" and a dotted member path through
// nested and anonymous structs ("context.tlb_gen"), and where to put it.
struct FieldRequest {
  const char* type;
  const char* path;
  Field KernelLayout::*dest;
  bool required;
};

// Every member the probes read; optional ones may be missing in a kernel.
const std::vector<FieldRequest>& FieldRequests();

}  // namespace tlbscope::introspect
