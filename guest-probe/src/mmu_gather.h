// Linux's struct mmu_gather (mm/mmu_gather.c, include/asm-generic/tlb.h),
// reduced: the range and levels to flush, the pages and page tables to free
// after the flush, and the nested-flush detection through
// mm->tlb_flush_pending.
#pragma once

#include <stdint.h>

#include "tlbflush.h"

#define GATHER_MAX_PAGES 64
#define GATHER_MAX_TABLES 8

struct mmu_gather {
  struct mm* mm;
  uint64_t start, end;          // range to flush (start > end: nothing yet)
  uint64_t req_start, req_end;  // as given to tlb_gather_mmu
  int freed_tables;
  uint32_t cleared;  // TLBSCOPE_LEVEL_* the gather cleared
  uint32_t npages, ntables;
  uint64_t page_va[GATHER_MAX_PAGES], page_pa[GATHER_MAX_PAGES];
  uint64_t table_pa[GATHER_MAX_TABLES];
};

void tlb_gather_mmu(struct mmu_gather* tlb, struct mm* mm, uint64_t start, uint64_t end);
// A present PTE for va (mapping page pa) was cleared.
void tlb_remove_page(struct mmu_gather* tlb, uint64_t va, uint64_t pa);
// A page table covering [va, va + 2 MiB) was unlinked (level 1 = PT).
void tlb_remove_table(struct mmu_gather* tlb, uint64_t va, uint64_t table_pa);
// Flushes (nested-aware), frees the batched pages and tables, ends it.
void tlb_finish_mmu(struct mmu_gather* tlb);
