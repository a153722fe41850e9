#include "vm.h"

#include "cpu.h"
#include "mm.h"
#include "mmu_gather.h"
#include "probe.h"
#include "smp.h"
#include "spinlock.h"

void (*vm_hook)(enum vm_hook_point point, struct mm* mm);

#define SLOT_SIZE (2ull << 20)

static int range_ok(uint64_t va, uint64_t npages) {
  return (va & (PAGE_SIZE - 1)) == 0 && va >= USER_MMAP_BASE && npages > 0 &&
         npages <= (USER_MMAP_END - va) / PAGE_SIZE;
}

static uint32_t slot_of(uint64_t va) { return (uint32_t)((va - USER_BASE) / SLOT_SIZE); }

// The PTE of va, or 0 when its page table is absent.
static uint64_t* pte_of(struct aspace* as, uint64_t va) {
  uint64_t pde = as->pd[slot_of(va)];
  if (!(pde & PTE_P)) return 0;
  uint64_t* pt = (uint64_t*)(uintptr_t)(pde & PTE_ADDR_MASK);
  return &pt[(va >> 12) & 511];
}

static void hook(enum vm_hook_point point, struct mm* mm) {
  if (vm_hook) vm_hook(point, mm);
}

static uint64_t ptl_lock(struct mm* mm) {
  return spin_lock_irqsave(&mm->page_table_lock, this_cpu());
}

static void ptl_unlock(struct mm* mm, uint64_t flags) {
  spin_unlock_irqrestore(&mm->page_table_lock, flags);
}

int64_t vm_mmap(struct mm* mm, uint64_t va, uint64_t npages, uint64_t value) {
  if (!range_ok(va, npages)) return -1;
  struct aspace* as = mm->as;
  uint64_t flags = ptl_lock(mm);
  int64_t r = 0;
  for (uint64_t i = 0; i < npages && r == 0; i++) {
    uint64_t a = va + i * PAGE_SIZE;
    uint32_t slot = slot_of(a);
    if (!(as->pd[slot] & PTE_P)) {
      as->pd[slot] = (uint64_t)(uintptr_t)page_alloc() | PTE_P | PTE_W | PTE_U;
    }
    uint64_t* pte = pte_of(as, a);
    if (*pte & PTE_P) {
      r = -1;  // no MAP_FIXED over a mapping
      break;
    }
    uint64_t* page = page_alloc();
    page[0] = value + i;
    *pte = (uint64_t)(uintptr_t)page | PTE_P | PTE_W | PTE_U;
    as->slot_present[slot]++;
  }
  ptl_unlock(mm, flags);
  return r;  // not-present to present: nothing to flush on x86
}

// zap_page_range(): clears the present PTEs of the range into the gather.
static void zap_range(struct mmu_gather* tlb, uint64_t va, uint64_t npages) {
  struct aspace* as = tlb->mm->as;
  for (uint64_t i = 0; i < npages; i++) {
    uint64_t a = va + i * PAGE_SIZE;
    uint64_t* pte = pte_of(as, a);
    if (!pte || !(*pte & PTE_P)) continue;
    uint64_t pa = *pte & PTE_ADDR_MASK;
    *pte = 0;  // ptep_get_and_clear_full()
    as->slot_present[slot_of(a)]--;
    tlb_remove_page(tlb, a, pa);
  }
}

// free_pgtables(): unlinks the page tables of the slots the range covers
// whole that no longer map anything.
static void free_pgtables(struct mmu_gather* tlb, uint64_t va, uint64_t end) {
  struct aspace* as = tlb->mm->as;
  for (uint64_t s = (va + SLOT_SIZE - 1) & ~(SLOT_SIZE - 1); s + SLOT_SIZE <= end; s += SLOT_SIZE) {
    uint32_t slot = slot_of(s);
    if (!(as->pd[slot] & PTE_P) || as->slot_present[slot]) continue;
    uint64_t pt = as->pd[slot] & PTE_ADDR_MASK;
    as->pd[slot] = 0;
    tlb_remove_table(tlb, s, pt);
  }
}

int64_t vm_munmap(struct mm* mm, uint64_t va, uint64_t npages) {
  if (!range_ok(va, npages)) return -1;
  uint64_t end = va + npages * PAGE_SIZE;
  struct mmu_gather tlb;
  tlb_gather_mmu(&tlb, mm, va, end);
  uint64_t flags = ptl_lock(mm);
  zap_range(&tlb, va, npages);
  free_pgtables(&tlb, va, end);
  ptl_unlock(mm, flags);
  hook(VM_HOOK_MUNMAP_CLEARED, mm);
  tlb_finish_mmu(&tlb);
  return 0;
}

int64_t vm_madvise_dontneed(struct mm* mm, uint64_t va, uint64_t npages) {
  if (!range_ok(va, npages)) return -1;
  struct mmu_gather tlb;
  tlb_gather_mmu(&tlb, mm, va, va + npages * PAGE_SIZE);
  uint64_t flags = ptl_lock(mm);
  zap_range(&tlb, va, npages);
  ptl_unlock(mm, flags);
  tlb_finish_mmu(&tlb);
  return 0;
}

int64_t vm_mprotect(struct mm* mm, uint64_t va, uint64_t npages, int writable) {
  if (!range_ok(va, npages)) return -1;
  uint64_t first = 0, last = 0;
  uint64_t flags = ptl_lock(mm);
  for (uint64_t i = 0; i < npages; i++) {
    uint64_t a = va + i * PAGE_SIZE;
    uint64_t* pte = pte_of(mm->as, a);
    if (!pte || !(*pte & PTE_P)) continue;
    uint64_t want = writable ? (*pte | PTE_W) : (*pte & ~(uint64_t)PTE_W);
    if (want == *pte) continue;
    *pte = want;
    if (!last) first = a;
    last = a + PAGE_SIZE;
  }
  ptl_unlock(mm, flags);
  // change_protection() flushes what it changed (flush_tlb_range).
  if (last) flush_tlb_mm_range(mm, first, last, 12, 0, 0);
  return 0;
}
