// Threads for the mm scenarios: every CPU runs one thread of an mm (its
// kernel side is the scenario's C code; its user side is short CPL3 tasks
// that read and write user pages through the real TLB and make the mm
// syscalls with int $0x80). Plus cross-CPU flags, a barrier, and the
// scenario's seeded random numbers.
#pragma once

#include <stdint.h>

#include "mm.h"
#include "smp.h"
#include "tlbflush.h"

// An mm with its page tables.
struct world {
  struct aspace as;
  struct mm mm;
};
// aspace_init + mm_init; the data page's first qword = data_value.
void world_init(struct world* w, uint64_t data_value);

// This CPU becomes a thread of mm (switch_mm_irqs_off, interrupts off).
void thread_switch(struct mm* mm);
// Kernel-thread-like: borrow the loaded mm lazily (enter_lazy_tlb).
void kthread_begin(void);
// A thread of init_mm again (leave_mm), e.g. the idle task.
void thread_exit_to_idle(void);

// CPL3 tasks in the loaded mm. uread: the qword at va, or USER_FAULTED.
// uwrite: 0, or USER_FAULTED. usys: the syscall's result.
uint64_t uread(uint64_t va);
uint64_t uwrite(uint64_t va, uint64_t value);
uint64_t usys(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2);

// Runs fn(arg) on every online CPU at once (the BSP's share inline) and
// returns when all are done. BSP only.
void run_on_all_cpus(cpu_fn fn, void* arg);
uint32_t online_cpus(void);

// Flags: flag_set stores and wakes every other online CPU; flag_wait
// sleeps (interrupts on) until *f >= want.
void flag_set(volatile uint32_t* f, uint32_t value);
void flag_add(volatile uint32_t* f);
void flag_wait(volatile uint32_t* f, uint32_t want);

// Every online CPU waits until all have arrived.
struct barrier {
  volatile uint32_t count, gen;
};
void barrier_wait(struct barrier* b);

// The scenario's variant (`variant=bug` on the command line) and its
// seeded generator (`seed=N`, default 1): the same seed, the same run.
extern int scenario_bug;
extern uint64_t scenario_seed;
uint64_t rand_next(void);
uint64_t rand_below(uint64_t n);  // 0 .. n-1
// A CPU other than the BSP, chosen by the seed (1 when there is none).
uint32_t rand_other_cpu(void);

// A CPL3 read returned `observed` where the kernel's completed flush says
// `expected`: STALE_READ record and a console line.
void stale_read_event(struct mm* mm, uint64_t va, uint64_t expected, uint64_t observed);

// The CPUs a seed scenario gives no role (beyond the BSP and one other):
// they leave for the idle task and count themselves in *idle; the BSP
// waits for all of them before it starts the race.
void bystander_go_idle(volatile uint32_t* idle);
void wait_for_bystanders(volatile uint32_t* idle);

// The BSP's part in a remap race (lazy-free, async-flush): once *ready is
// set and the bystanders are idle, it munmaps `unmap_pages` at va (in CPL3),
// maps `map_pages` pages holding `now` there, sets *remapped, and returns
// what it then reads at va.
uint64_t remap_when_ready(volatile uint32_t* ready, volatile uint32_t* idle, uint64_t va,
                          uint64_t unmap_pages, uint64_t map_pages, uint64_t now,
                          volatile uint32_t* remapped);

// `name`: every online CPU first read `old` at va; the BSP and `reader`
// then read `now` (after the remap). A wrong second read is a
// stale_read_event. Reports "G/N CPUs read the old page, then <what>".
void report_reread(const char* name, struct mm* mm, uint64_t va, const uint64_t* first,
                   const uint64_t* again, uint32_t reader, uint64_t old, uint64_t now,
                   const char* what);
