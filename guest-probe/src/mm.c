#include "mm.h"

#include "probe.h"
#include "smp.h"
#include "spinlock.h"

extern uint64_t boot_pml4[512];
extern const uint8_t __user_text_start[], __user_text_end[];

// Pool pages sit in .bss, which every loader zero-fills, so pages are
// handed out without clearing them (a 4 KiB clear is ~1000 emulated
// instructions on the development host).
#define POOL_PAGES 768
static uint8_t pool[POOL_PAGES][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint32_t pool_next;
// Freed pages: a stack of page addresses under a lock (any CPU frees).
static void* freed[POOL_PAGES];
static uint32_t nfreed;
static struct spinlock pool_lock = SPINLOCK_INIT;

void* page_alloc(void) {
  uint64_t flags = spin_lock_irqsave(&pool_lock, this_cpu());
  void* p = nfreed ? freed[--nfreed] : 0;
  spin_unlock_irqrestore(&pool_lock, flags);
  if (p) {
    uint64_t* q = p;
    for (int i = 0; i < 512; i++) q[i] = 0;
    return p;
  }
  uint32_t n = __atomic_fetch_add(&pool_next, 1, __ATOMIC_RELAXED);
  GUEST_ASSERT(n < POOL_PAGES);
  return pool[n];
}

void page_free(void* page) {
  *(volatile uint64_t*)page = PAGE_POISON;
  uint64_t flags = spin_lock_irqsave(&pool_lock, this_cpu());
  GUEST_ASSERT(nfreed < POOL_PAGES);
  freed[nfreed++] = page;
  spin_unlock_irqrestore(&pool_lock, flags);
}

static uint64_t pa(const void* p) { return (uint64_t)(uintptr_t)p; }

uint64_t kernel_cr3(void) { return pa(boot_pml4); }

uint64_t aspace_cr3(const struct aspace* as) { return pa(as->pml4); }

uint64_t* aspace_pte(struct aspace* as, uint64_t va) {
  GUEST_ASSERT(va >= USER_BASE && va < USER_BASE + (2ull << 20));
  return &as->pt[(va - USER_BASE) >> 12];
}

void aspace_map(struct aspace* as, uint64_t va, uint64_t phys, uint64_t flags) {
  *aspace_pte(as, va) = (phys & PTE_ADDR_MASK) | flags | PTE_P;
}

void aspace_init(struct aspace* as) {
  // The kernel half is shared by reference: all spaces see the same
  // supervisor-only identity map.
  as->pml4[0] = boot_pml4[0];
  as->pml4[USER_BASE >> 39] = pa(as->pdpt) | PTE_P | PTE_W | PTE_U;
  as->pdpt[0] = pa(as->pd) | PTE_P | PTE_W | PTE_U;
  as->pd[0] = pa(as->pt) | PTE_P | PTE_W | PTE_U;
  for (const uint8_t* p = __user_text_start; p < __user_text_end; p += PAGE_SIZE) {
    aspace_map(as, USER_CODE_VA + (uint64_t)(p - __user_text_start), pa(p), PTE_U);
  }
  aspace_map(as, USER_STACK_TOP - PAGE_SIZE, pa(page_alloc()), PTE_U | PTE_W);
  aspace_map(as, USER_DATA_VA, pa(page_alloc()), PTE_U | PTE_W);
}
