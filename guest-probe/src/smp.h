// CPU discovery (MP table), AP start-up (INIT/SIPI), per-CPU data and
// cross-CPU calls over LAPIC IPIs.
#pragma once

#include <stdint.h>
#include <tlbscope/probe_abi.h>

#define MAX_CPUS 64
#define CPU_STACK_SIZE 16384
#define TRAMPOLINE_PA 0x8000  // SIPI vector 0x08

// IPI vectors.
#define VEC_CALL 0x40  // run the queued on_cpu() call
#define VEC_PING 0x41  // ipi_pingpong: reply with VEC_PONG to ping_from
#define VEC_PONG 0x42
#define VEC_WAKE 0x43  // on_cpu() completion: wakes a caller waiting in hlt
#define VEC_SPURIOUS 0xff

typedef void (*cpu_fn)(void* arg);

// Calls of each TLB stub (tlb.h wrappers). Only the owning CPU writes them.
struct tlb_counts {
  uint64_t cr3_writes;
  uint64_t invlpgs;
  uint64_t invpcids;
};

struct percpu {
  uint32_t index;
  uint32_t apic_id;
  volatile uint32_t online;

  // One queued cross-CPU call (on_cpu/on_cpu_async). call_busy guards the
  // slot; the IPI handler copies it out and frees it before running fn.
  volatile uint32_t call_busy;
  cpu_fn call_fn;
  void* call_arg;
  volatile uint32_t* call_done;
  int32_t call_wake;  // CPU index to send VEC_WAKE to when done, or -1

  // ipi_pingpong bookkeeping.
  volatile uint32_t ping_from;
  volatile uint32_t pings;
  volatile uint32_t pongs;

  // user.c: kernel stack pointer to resume on SYS_EXIT, and the hooks of
  // the task currently running on this CPU.
  uint64_t user_return_rsp;
  void* user_run;
  uint64_t int80_via_ud;  // syscalls that arrived as #UD (see user.c)
  uint64_t user_faults;   // tasks ended by a #PF at CPL3 (see user.c)
  struct tlb_counts tlb;  // TLB stub calls on this CPU (tlb.h)

  // Probe message buffer, one per CPU so senders never share one.
  struct tlbscope_probe_msg msg __attribute__((aligned(64)));
};

extern struct percpu percpus[MAX_CPUS];
extern uint32_t cpu_count;        // CPUs found in the MP table (>= 1)
extern uint8_t apic_to_cpu[256];  // APIC id -> CPU index (0 = BSP/unknown)
extern uint8_t cpu_stacks[MAX_CPUS][CPU_STACK_SIZE];

// CPU index from the stack pointer: every CPU runs on its own
// CPU_STACK_SIZE-aligned stack in cpu_stacks (user mode never runs kernel
// code on another stack), so this needs no MSR or segment base.
static inline int this_cpu(void) {
  uint64_t rsp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
  return (int)((rsp - (uint64_t)(uintptr_t)cpu_stacks) / CPU_STACK_SIZE);
}
static inline struct percpu* this_percpu(void) { return &percpus[this_cpu()]; }

// Reads the MP table; fills percpus[]/apic_to_cpu[]; returns cpu_count.
uint32_t smp_discover(void);
// INIT/SIPI/SIPI every AP in turn; returns how many came online
// (including the BSP).
uint32_t smp_boot_aps(void);
uint32_t smp_online_count(void);

// Run fn(arg) on `cpu` from its VEC_CALL handler (interrupts off, the
// handler has already sent EOI) and wait until it returns. Runs directly
// if cpu is the caller's. The caller keeps its interrupt state while it
// waits, so a waiting CPU with IF=1 can still serve IPIs.
void on_cpu(int cpu, cpu_fn fn, void* arg);
// Same, without waiting for completion (only for the slot to be free).
void on_cpu_async(int cpu, cpu_fn fn, void* arg);

// Registers the IPI vector handlers (BSP, before any AP starts).
void smp_init_handlers(void);
// Sends VEC_PING to `target`, which answers with VEC_PONG; returns 1 if the
// pong arrived within timeout_us. One pinger per target at a time.
int smp_ping(int target, uint64_t timeout_us);
// AP C entry (start32.S).
void ap_main(uint32_t idx) __attribute__((noreturn));
