#include "mmu_gather.h"

#include "console.h"
#include "events.h"
#include "lib.h"
#include "mm.h"
#include "probe.h"
#include "vm.h"

struct vm_checks vm_checks;

void tlb_gather_mmu(struct mmu_gather* tlb, struct mm* mm, uint64_t start, uint64_t end) {
  tlb->mm = mm;
  tlb->start = ~0ull;
  tlb->end = 0;
  tlb->req_start = start;
  tlb->req_end = end;
  tlb->freed_tables = 0;
  tlb->cleared = 0;
  tlb->npages = 0;
  tlb->ntables = 0;
  // inc_tlb_flush_pending()
  uint32_t pending = __atomic_add_fetch(&mm->tlb_flush_pending, 1, __ATOMIC_SEQ_CST);
  event_emit(TLBSCOPE_EV_GATHER_START, 0, mm->ctx_id, start, end, pending);
}

static void adjust_range(struct mmu_gather* tlb, uint64_t start, uint64_t end) {
  if (start < tlb->start) tlb->start = start;
  if (end > tlb->end) tlb->end = end;
}

void tlb_remove_page(struct mmu_gather* tlb, uint64_t va, uint64_t pa) {
  GUEST_ASSERT(tlb->npages < GATHER_MAX_PAGES);
  adjust_range(tlb, va, va + PAGE_SIZE);
  tlb->cleared |= TLBSCOPE_LEVEL_PTE;
  tlb->page_va[tlb->npages] = va;
  tlb->page_pa[tlb->npages] = pa;
  tlb->npages++;
}

void tlb_remove_table(struct mmu_gather* tlb, uint64_t va, uint64_t table_pa) {
  GUEST_ASSERT(tlb->ntables < GATHER_MAX_TABLES);
  // pte_free_tlb(): tlb_flush_pmd_range(tlb, address, PAGE_SIZE).
  adjust_range(tlb, va, va + PAGE_SIZE);
  tlb->cleared |= TLBSCOPE_LEVEL_PMD;
  tlb->freed_tables = 1;
  tlb->table_pa[tlb->ntables++] = table_pa;
}

// The guest's own check of a free: every other CPU that may still
// translate through what is freed has caught up with the covering flush.
// Data pages: CPUs running the mm (a lazy CPU does not touch user pages).
// Page tables: lazy CPUs too (speculative walks, seed 000).
static void check_free(struct mm* mm, uint64_t what, uint64_t gen, int table) {
  int self = this_cpu();
  for (uint32_t c = 0; c < cpu_count; c++) {
    struct tlb_state* ts = &cpu_tlbstate[c];
    if ((int)c == self || !READ_ONCE(percpus[c].online)) continue;
    if (READ_ONCE(ts->loaded_mm) != mm) continue;
    // is_lazy first, then unlazying: a CPU leaving lazy mode sets
    // unlazying before it clears is_lazy, and clears it only once caught up.
    int lazy = READ_ONCE(ts->is_lazy);
    smp_mb();
    lazy = lazy || READ_ONCE(ts->unlazying);
    if (!table && lazy) continue;
    uint64_t local = tlb_local_gen(ts);
    if (local >= gen) continue;
    uint32_t n = table ? vm_checks.unsafe_table_frees++ : vm_checks.unsafe_page_frees++;
    if (n == 0 && !vm_checks.first[0]) {
      snprintf(vm_checks.first, sizeof(vm_checks.first),
               "%s 0x%lx of mm %lu freed at gen %lu; cpu %u%s at gen %lu",
               table ? "page table" : "page", what, mm->ctx_id, gen, c, lazy ? " (lazy)" : "",
               local);
    }
  }
}

void tlb_finish_mmu(struct mmu_gather* tlb) {
  struct mm* mm = tlb->mm;
  uint32_t pending_seen = __atomic_load_n(&mm->tlb_flush_pending, __ATOMIC_SEQ_CST);
  uint16_t flags = 0;
  uint32_t levels = tlb->cleared;
  if (tlb->freed_tables) flags |= TLBSCOPE_GE_OWN_FREED;
  // mm_tlb_flush_nested(): another gather of this mm is in flight, and it
  // may have cleared PTEs in our range that it has not flushed yet.
  if (pending_seen > 1) {
    flags |= TLBSCOPE_GE_NESTED;
    vm_checks.nested_gathers++;
    if (tlb_bugs.nested_reset_range) {
      // The bug (seed 003): __tlb_reset_range() then the given range,
      // which drops freed_tables and the upper levels.
      tlb->start = tlb->req_start;
      tlb->end = tlb->req_end;
      tlb->freed_tables = 0;
      levels = TLBSCOPE_LEVEL_PTE;
    } else {
      // Linux today: fullmm, everything, freed_tables.
      tlb->start = 0;
      tlb->end = TLB_FLUSH_ALL;
      tlb->freed_tables = 1;
      levels = TLBSCOPE_LEVEL_PTE | TLBSCOPE_LEVEL_PMD | TLBSCOPE_LEVEL_PUD | TLBSCOPE_LEVEL_P4D;
    }
    int covers =
        tlb->end == TLB_FLUSH_ALL || (tlb->start <= USER_MMAP_BASE && tlb->end >= USER_MMAP_END);
    if (!covers || !tlb->freed_tables) {
      if (!vm_checks.nested_short && !vm_checks.first[0]) {
        snprintf(vm_checks.first, sizeof(vm_checks.first),
                 "nested flush of mm %lu: [0x%lx, 0x%lx) freed_tables %d", mm->ctx_id, tlb->start,
                 tlb->end, tlb->freed_tables);
      }
      vm_checks.nested_short++;
    }
  }
  if (tlb->freed_tables) flags |= TLBSCOPE_GE_FREED_TABLES;
  uint64_t gen = 0;
  if (tlb->start < tlb->end) {
    flush_tlb_mm_range(mm, tlb->start, tlb->end, 12, tlb->freed_tables, &gen);
  } else {
    tlb->start = tlb->end = 0;
    levels = 0;
  }
  for (uint32_t i = 0; i < tlb->npages; i++) {
    event_emit(TLBSCOPE_EV_PAGE_FREE, 0, mm->ctx_id, tlb->page_va[i], tlb->page_pa[i], gen);
    check_free(mm, tlb->page_va[i], gen, 0);
    __atomic_add_fetch(&vm_checks.page_frees, 1, __ATOMIC_SEQ_CST);
    page_free((void*)(uintptr_t)tlb->page_pa[i]);
  }
  for (uint32_t i = 0; i < tlb->ntables; i++) {
    event_emit(TLBSCOPE_EV_PAGE_TABLE_FREE, 0, mm->ctx_id, tlb->table_pa[i], 1, gen);
    check_free(mm, tlb->table_pa[i], gen, 1);
    __atomic_add_fetch(&vm_checks.table_frees, 1, __ATOMIC_SEQ_CST);
    page_free((void*)(uintptr_t)tlb->table_pa[i]);
  }
  __atomic_sub_fetch(&mm->tlb_flush_pending, 1, __ATOMIC_SEQ_CST);
  event_emit6(TLBSCOPE_EV_GATHER_END, flags, mm->ctx_id, tlb->start, tlb->end, gen, levels,
              pending_seen);
}
