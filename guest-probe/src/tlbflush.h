// The first slice of Linux's x86 TLB shootdown machinery
// (arch/x86/mm/tlb.c), non-PCID paths: per-mm context (ctx_id, tlb_gen,
// cpumask), per-CPU TLB state, switch_mm_irqs_off with its need_flush
// logic, lazy TLB mode, flush_tlb_mm_range and flush_tlb_func. Every CR3
// write goes through write_cr3() and every page flush through invlpg()
// (tlb.h); each step is announced in the event ring (probe_abi.h).
#pragma once

#include <stdint.h>

#include "mm.h"
#include "smp.h"

#define TLB_FLUSH_ALL (~0ull)
// Linux's tlb_single_page_flush_ceiling: a range of more pages than this
// is flushed in full.
#define TLB_SINGLE_PAGE_FLUSH_CEILING 33

// mm_struct's x86 context, reduced. CPUs 0..63 in cpumask.
struct mm {
  uint64_t ctx_id;    // never reused; init_mm has 1
  uint64_t tlb_gen;   // atomic; bumped by every flush request
  uint64_t cpumask;   // atomic; CPUs that may cache this mm
  struct aspace* as;  // the page tables (0 for init_mm)
};

// The kernel's own address space (boot_pml4): what a CPU loads when it
// has no user mm.
extern struct mm init_mm;

// One ASID slot of cpu_tlbstate.ctxs[]: no PCID here, so only ASID 0.
struct tlb_context {
  uint64_t ctx_id;
  uint64_t tlb_gen;  // the mm generation this CPU's TLB has caught up to
};

#define TLB_NR_DYN_ASIDS 1

// cpu_tlbstate and cpu_tlbstate_shared, merged. Written by its own CPU
// (is_lazy and loaded_mm are read by flush initiators).
struct tlb_state {
  struct mm* volatile loaded_mm;
  uint16_t loaded_mm_asid;
  volatile uint8_t is_lazy;
  struct tlb_context ctxs[TLB_NR_DYN_ASIDS];
  uint64_t flush_funcs;  // flush_tlb_func runs on this CPU (for checks)
};

extern struct tlb_state cpu_tlbstate[MAX_CPUS];

// Fresh mm over `as` (already built with aspace_init): new ctx_id,
// tlb_gen 1, empty cpumask.
void mm_init(struct mm* mm, struct aspace* as);
uint64_t mm_cr3(const struct mm* mm);

// initialize_tlbstate_and_flush() without the flush: this CPU runs on
// init_mm's tables. Each CPU, once, before any switch (no CR3 write).
void tlb_state_init_cpu(void);

// Makes `next` this CPU's loaded mm, flushing only where Linux's
// need_flush says so. Interrupts off. (`prev` is ignored, as on x86:
// cpu_tlbstate.loaded_mm is the truth.)
void switch_mm_irqs_off(struct mm* prev, struct mm* next);
// Kernel-thread-like: keep the loaded mm, stop taking its flush IPIs.
void enter_lazy_tlb(struct mm* mm);
// Lazy CPU: switch to init_mm for real.
void leave_mm(void);

// Linux's flush_tlb_mm_range: bumps mm->tlb_gen, flushes here if mm is
// loaded and IPIs the other CPUs of mm->cpumask (not the lazy ones unless
// freed_tables), waiting for them. Interrupts on. Returns the CPU mask
// that ran flush_tlb_func (the FLUSH_REQUEST event's a[5]).
uint64_t flush_tlb_mm_range(struct mm* mm, uint64_t start, uint64_t end, unsigned stride_shift,
                            int freed_tables);
