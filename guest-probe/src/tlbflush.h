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
#include "spinlock.h"

#define TLB_FLUSH_ALL (~0ull)
// Linux's tlb_single_page_flush_ceiling: a range of more pages than this
// is flushed in full.
#define TLB_SINGLE_PAGE_FLUSH_CEILING 33

// LAM CR3 bits (mm->lam_cr3_mask in Linux).
#define X86_CR3_LAM_U57 (1ull << 61)
#define X86_CR3_LAM_U48 (1ull << 62)

// mm_struct's x86 context, reduced. CPUs 0..63 in cpumask.
struct mm {
  uint64_t ctx_id;                  // never reused; init_mm has 1
  uint64_t tlb_gen;                 // atomic; bumped by every flush request
  uint64_t cpumask;                 // atomic; CPUs that may cache this mm
  struct aspace* as;                // the page tables (0 for init_mm)
  uint64_t lam_cr3_mask;            // LAM bits for CR3 (0: LAM off)
  uint64_t untag_mask;              // ~0 without LAM
  uint32_t tlb_flush_pending;       // atomic; mmu_gathers in flight (mmu_gather.c)
  uint32_t membarrier_sync_core;    // registered PRIVATE_EXPEDITED_SYNC_CORE
  struct spinlock page_table_lock;  // vm.c: PTE and page-table edits
};

// The historical mistakes the seed scenarios bring back on demand
// (`variant=bug`). All zero: Linux's correct behaviour. Set by a scenario
// before it starts; read everywhere.
struct tlb_bugs {
  int lazy_drop_cpumask;   // seed 000: enter_lazy_tlb clears the CPU from mm_cpumask
  int async_flush;         // seed 001: flush_tlb_mm_range does not wait for the targets
  int lam_skip_on_unlazy;  // seed 002: unlazy with tlb_gen unchanged skips the LAM update
  int nested_reset_range;  // seed 003: nested tlb_finish_mmu resets the range (no tables)
  int unlazy_skip_sync;    // seed 004: unlazy skips sync_core when a flush IPI was skipped
};
extern struct tlb_bugs tlb_bugs;

// The kernel's own address space (boot_pml4): what a CPU loads when it
// has no user mm.
extern struct mm init_mm;

// One ASID slot of cpu_tlbstate.ctxs[]. With PCID (CR4.PCIDE, enabled
// when CPUID has it) each CPU keeps TLB_NR_DYN_ASIDS mms' translations
// tagged with PCID asid + 1; without PCID only slot 0 is used and every
// CR3 write flushes.
struct tlb_context {
  uint64_t ctx_id;
  uint64_t tlb_gen;  // the mm generation this CPU's TLB has caught up to
};

#define TLB_NR_DYN_ASIDS 6
#define X86_CR3_PCID_NOFLUSH (1ull << 63)

// cpu_tlbstate and cpu_tlbstate_shared, merged. Written by its own CPU
// (is_lazy and loaded_mm are read by flush initiators).
struct tlb_state {
  struct mm* volatile loaded_mm;
  uint16_t loaded_mm_asid;
  volatile uint8_t is_lazy;
  uint16_t next_asid;  // choose_new_asid()'s round robin
  struct tlb_context ctxs[TLB_NR_DYN_ASIDS];
  uint64_t lam;          // this CPU's LAM CR3 bits (cpu_tlbstate.lam)
  uint64_t flush_funcs;  // flush_tlb_func runs on this CPU (for checks)
  // A flush initiator skipped this CPU because it was lazy (the
  // unlazy-sync bug trusts this to mean "the unlazy will flush").
  volatile uint8_t flush_skipped;
  // For the guest's own checks only (not Linux state): set before a lazy
  // CPU clears is_lazy in switch_mm_irqs_off, cleared once the switch is
  // done. In between the CPU looks unlazy with its old local gen, but it is
  // in the kernel and reads mm->tlb_gen after the barrier: it touches no
  // user page before it has caught up (check_free must not count it).
  volatile uint8_t unlazying;
  // Unlazied into a SYNC_CORE mm without serializing yet: the next return
  // to user mode must not happen before a CR3 write or sync_core().
  uint8_t need_sync_core;
  // Returns to user mode that broke a rule (checked in user.c):
  // LAM differing from the mm's, or a missing core serialization.
  uint32_t lam_mismatch_entries;
  uint32_t unserialized_entries;
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
// asked to run flush_tlb_func (the FLUSH_REQUEST event's a[5]); the new
// tlb_gen goes to *new_gen when new_gen is not 0.
uint64_t flush_tlb_mm_range(struct mm* mm, uint64_t start, uint64_t end, unsigned stride_shift,
                            int freed_tables, uint64_t* new_gen);

// Set while an initiator waits for its targets / once it has returned
// (the async-flush scenario's remote CPU waits for one of them).
extern volatile uint32_t flush_waiting, flush_returned;

// prctl(ARCH_ENABLE_TAGGED_ADDR) for the current mm: LAM_U57. Only this
// CPU is updated, as in the Linux the seed 002 thread discusses; other
// CPUs pick the mm's LAM up in switch_mm_irqs_off.
void mm_enable_lam(struct mm* mm);
// membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE).
void mm_register_sync_core(struct mm* mm);

// Linux's sync_core_before_usermode(): IRET to self, recorded (SYNC_CORE).
void sync_core_for(struct mm* mm, uint32_t reason);

// The mm ctx_id whose page tables this CPU runs on now (0 when a raw
// address space is loaded), for USER_ENTER/USER_EXIT records.
uint64_t current_mm_id(void);
// Checks and records a return to user mode in the loaded mm.
void tlb_user_enter(void);
// The local gen of the loaded mm's ASID slot.
static inline uint64_t tlb_local_gen(const struct tlb_state* ts) {
  return ts->ctxs[ts->loaded_mm_asid].tlb_gen;
}
// CR4.PCIDE is on (set per CPU at bring-up when CPUID.1:ECX[17]).
extern int tlb_pcid_enabled;
// Does this CPU have LAM (CPUID.(7,1):EAX[26], read by
// tlb_state_init_cpu)? Without it the LAM bits are software state only and
// never reach CR3.
int cpu_has_lam(void);
