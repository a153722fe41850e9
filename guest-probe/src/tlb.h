// The three TLB stubs (tlb_stubs.S) and the counting wrappers around them.
// Every TLB-affecting instruction the kernel executes after boot goes
// through one of the stubs, so the VMM can catch them all with hardware
// breakpoints on the symbols. Call the wrappers (write_cr3, invlpg,
// invpcid), never the stubs: the wrappers count each call in this CPU's
// percpu.tlb, which TLBSCOPE_PROBE_TLB_COUNTS reports at the end.
#pragma once

#include <stdint.h>

#include "cpu.h"
#include "events.h"
#include "smp.h"

struct invpcid_desc {
  uint64_t pcid;  // bits 11:0; bits 63:12 must be 0
  uint64_t addr;  // linear address (type 0 only)
};

// INVPCID types (the register operand).
#define INVPCID_ADDR 0        // one address in one PCID
#define INVPCID_CONTEXT 1     // one PCID, except global translations
#define INVPCID_ALL_GLOBAL 2  // every PCID, global translations too
#define INVPCID_ALL 3         // every PCID, except global translations

void tlb_write_cr3(uint64_t cr3);
void tlb_invlpg(uint64_t va);
// The development host has no INVPCID: it becomes an emulation failure
// that the VMM handles (see scenario=invpcid).
void tlb_invpcid(uint64_t type, const struct invpcid_desc* desc);

// One read-modify-write instruction on this CPU's own counter: an
// interrupt on this CPU cannot split it and no other CPU writes it.
static inline void tlb_count(uint64_t* counter) { __asm__ volatile("incq %0" : "+m"(*counter)); }

// Every CR3 write is announced by a CONTEXT_SWITCH record (docs/events.md)
// that goes out first, so it precedes the trapped write in time.
// write_cr3_mm: a write inside the mm model (switch_mm_irqs_off, or
// flush_tlb_func's reload): flags TLBSCOPE_CS_*, the mms' ctx_ids and the
// ASID slot and the LAM bits (the CPU's after the write, the next mm's).
static inline void write_cr3_mm(uint64_t cr3, uint16_t flags, uint64_t prev_mm, uint64_t next_mm,
                                uint64_t asid, uint64_t cpu_lam, uint64_t mm_lam) {
  tlb_count(&this_percpu()->tlb.cr3_writes);
  event_emit6(TLBSCOPE_EV_CONTEXT_SWITCH, flags, prev_mm, next_mm, cr3, asid, cpu_lam, mm_lam);
  tlb_write_cr3(cr3);
}

// A raw CR3 write outside the mm model (selftest's address spaces,
// user_run()): mms 0.
static inline void write_cr3(uint64_t cr3) {
  write_cr3_mm(cr3, TLBSCOPE_CS_NEED_FLUSH | TLBSCOPE_CS_RAW, 0, 0, 0, 0, 0);
}

static inline void invlpg(uint64_t va) {
  tlb_count(&this_percpu()->tlb.invlpgs);
  tlb_invlpg(va);
}

static inline void invpcid(uint64_t type, const struct invpcid_desc* desc) {
  tlb_count(&this_percpu()->tlb.invpcids);
  tlb_invpcid(type, desc);
}

// Uncounted calls would make the TLB_COUNTS report wrong: only the
// wrappers above may name the stubs.
#pragma GCC poison tlb_write_cr3 tlb_invlpg tlb_invpcid

// Every online CPU sends its TLBSCOPE_PROBE_TLB_COUNTS message (in CPU
// index order, each from its own CPU via on_cpu) and the BSP prints one
// "TLB_COUNTS" line per CPU. BSP only, after the scenario's last check.
void tlb_report_counts(void);
