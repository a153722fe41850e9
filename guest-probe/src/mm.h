// Page tables. The kernel runs on the static boot tables (start32.S:
// boot_pml4, the first 4 GiB identity mapped with supervisor 2 MiB pages).
// Each user address space is its own PML4 that shares the kernel's PML4
// entry 0 and maps a 2 MiB user window at USER_BASE (PML4 entry 1) with
// 4 KiB user pages (layout in user_abi.h).
#pragma once

#include <stdint.h>

#include "user_abi.h"

#define PAGE_SIZE 4096
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_U 0x4
#define PTE_ADDR_MASK 0x000ffffffffff000ull

// PD slot 0 is the fixed user window (code, data, stack, test pages);
// slots 1..USER_MMAP_SLOTS are the mmap area (vm.h), each with its own page
// table, allocated on first use and freed again by munmap.
#define USER_MMAP_SLOTS 16
#define USER_MMAP_BASE (USER_BASE + (2ull << 20))
#define USER_MMAP_END (USER_MMAP_BASE + USER_MMAP_SLOTS * (2ull << 20))

struct aspace {
  uint64_t pml4[512];
  uint64_t pdpt[512];
  uint64_t pd[512];
  uint64_t pt[512];  // the user window: USER_BASE .. USER_BASE + 2 MiB
  // Kernel bookkeeping for the mmap area: present PTEs per PD slot.
  uint32_t slot_present[512];
} __attribute__((aligned(PAGE_SIZE)));

// CR3 value of the kernel's own tables.
uint64_t kernel_cr3(void);

// Builds `as`: kernel half, .user_text at USER_CODE_VA, a fresh stack page,
// and a fresh zeroed data page at USER_DATA_VA.
void aspace_init(struct aspace* as);
uint64_t aspace_cr3(const struct aspace* as);
// The PTE for a VA in the user window (plain memory: editing it does NOT
// flush anything; use invlpg()/write_cr3() from tlb.h).
uint64_t* aspace_pte(struct aspace* as, uint64_t va);
void aspace_map(struct aspace* as, uint64_t va, uint64_t pa, uint64_t flags);

// A zeroed physical page from a static pool (identity mapped, so the
// returned pointer is also its physical address).
void* page_alloc(void);
// A page back to the pool, to be handed out again by page_alloc (which
// then zeroes it). The first qword is overwritten with PAGE_POISON at
// once, so a stale translation that still reaches it reads the poison.
void page_free(void* page);
#define PAGE_POISON 0xdeadbeefdeadbeefull
