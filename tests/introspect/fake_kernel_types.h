// Struct shapes like Linux's (anonymous members, a typedef'd context,
// bitfields, an array of contexts) for the DWARF and BTF layout tests: the
// test compiles them into a small ELF with -g (and pahole makes its BTF),
// and compares what introspect reads with the compiler's own offsetof.
#pragma once
#include <stdint.h>

typedef struct {
  int64_t counter;
} atomic64_t;
typedef struct {
  int counter;
} atomic_t;
typedef struct {
  uint64_t ctx_id;
  atomic64_t tlb_gen;
  void* vdso;
  unsigned long lam_cr3_mask;
  uint64_t untag_mask;
} mm_context_t;
struct mm_struct {
  struct {
    void* mmap;
    unsigned long task_size;
    void* pgd;
    char pad[84];  // tlb_flush_pending at 0x98 (linux_probe_fns.S loads it)
    mm_context_t context;
    atomic_t tlb_flush_pending;
    atomic_t membarrier_state;
  };
  unsigned long cpu_bitmap[];
};
struct tlb_context {
  uint64_t ctx_id;
  uint64_t tlb_gen;
};
struct tlb_state {
  struct mm_struct* loaded_mm;
  union {
    struct mm_struct* last_user_mm;
    unsigned long last_user_mm_spec;
  };
  uint16_t loaded_mm_asid;
  uint16_t next_asid;
  struct tlb_context ctxs[6];
};
struct tlb_state_shared {
  char is_lazy;
};
struct flush_tlb_info {
  struct mm_struct* mm;
  unsigned long start;
  unsigned long end;
  uint64_t new_tlb_gen;
  unsigned int initiating_cpu;
  uint8_t stride_shift;
  uint8_t freed_tables;
};
struct mmu_gather {
  struct mm_struct* mm;
  void* table;
  unsigned long start;
  unsigned long end;
  unsigned int fullmm : 1;
  unsigned int need_flush_all : 1;
  unsigned int freed_tables : 1;
};
// Linux's is anonymous; named here so that the compiler emits it.
enum fake_membarrier_state {
  MEMBARRIER_STATE_PRIVATE_EXPEDITED_READY = (1U << 0),
  MEMBARRIER_STATE_PRIVATE_EXPEDITED = (1U << 1),
  MEMBARRIER_STATE_PRIVATE_EXPEDITED_SYNC_CORE = (1U << 5),
};
// include/linux/kernel.h's (SYSTEM_SCHEDULING = 1 there; 2 here, so a
// reader that assumed Linux's value would be caught).
enum system_states {
  SYSTEM_BOOTING,
  SYSTEM_EARLY,
  SYSTEM_SCHEDULING,
  SYSTEM_FREEING_INITMEM,
  SYSTEM_RUNNING,
};
// arch/x86/include/asm/alternative.h's (6.12: 14 bytes, packed).
struct alt_instr {
  int instr_offset;
  int repl_offset;
  unsigned int ft_flags;
  unsigned char instrlen;
  unsigned char replacementlen;
} __attribute__((packed));
struct page {
  unsigned long flags;
  void* lru[2];
  void* mapping;
  unsigned long index;
  unsigned long private_;
  atomic_t mapcount;
  atomic_t refcount;
  unsigned long memcg_data;
};
