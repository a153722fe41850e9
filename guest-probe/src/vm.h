// The mmap area of an mm and the syscalls that change it, modelled on
// Linux's mm/mmap.c and mm/memory.c with mm/mmu_gather.c: munmap and
// madvise(MADV_DONTNEED) clear PTEs inside an mmu_gather, munmap also
// frees page tables whose range went empty (free_pgtables), and pages
// and tables are freed only after the gather's flush. mprotect changes
// PTEs and flushes. Addresses are page aligned, in
// [USER_MMAP_BASE, USER_MMAP_END); one 2 MiB PD slot per page table.
#pragma once

#include <stdint.h>

#include "tlbflush.h"

// Maps npages fresh pages at va (which must be unmapped); page i's first
// qword is value + i. Returns 0, or -1 for a bad range.
int64_t vm_mmap(struct mm* mm, uint64_t va, uint64_t npages, uint64_t value);
int64_t vm_munmap(struct mm* mm, uint64_t va, uint64_t npages);
int64_t vm_madvise_dontneed(struct mm* mm, uint64_t va, uint64_t npages);
// writable 0/1: clears/sets PTE_W on the present pages.
int64_t vm_mprotect(struct mm* mm, uint64_t va, uint64_t npages, int writable);

// The guest's own verdict on every free (mmu_gather.c fills it): a page
// or page table freed while a CPU that may still use it has not caught up
// with the flush that covered it. The first offence is kept in words.
struct vm_checks {
  uint32_t page_frees, table_frees;
  uint32_t unsafe_page_frees;             // a non-lazy CPU running the mm is behind
  uint32_t unsafe_table_frees;            // any CPU with the mm loaded (lazy too) is behind
  uint32_t nested_gathers, nested_short;  // nested flushes; ones short of the union
  char first[120];
};
extern struct vm_checks vm_checks;

// Scenario hooks, called at fixed points with the mm (0 = none set).
enum vm_hook_point {
  VM_HOOK_MUNMAP_CLEARED = 1,  // munmap: PTEs cleared, tables unlinked, before the flush
};
extern void (*vm_hook)(enum vm_hook_point point, struct mm* mm);
