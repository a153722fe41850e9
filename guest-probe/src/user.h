// Running CPL3 tasks: enter a user address space with iretq, come back on
// SYS_EXIT (int $0x80).
#pragma once

#include <stdint.h>

#include "mm.h"

struct user_run;
// Called for SYS_YIELD in kernel mode (interrupts off) with the yield
// count so far (1 for the first) and the task's argument; its return value
// goes back to the task in rax.
typedef uint64_t (*user_yield_fn)(struct user_run* run, uint32_t n, uint64_t value);

struct user_run {
  struct aspace* as;
  user_yield_fn on_yield;  // may be 0
  void* ctx;               // for on_yield
  uint32_t yields;
};

// User-mode programs (user_progs.S); pass to user_entry().
extern const uint8_t uprog_sum_squares[], uprog_read[], uprog_read3[], uprog_getcpu[], uprog_sum3[],
    uprog_write[], uprog_syscall[];

struct mm;
// SYS_SCENARIO: the running scenario's kernel-side hook, in the caller's
// mm with interrupts on.
typedef uint64_t (*user_scenario_fn)(struct mm* mm, uint64_t arg);
extern user_scenario_fn user_scenario_hook;

// USER_CODE_VA alias of a program in .user_text.
uint64_t user_entry(const uint8_t* prog);

// Registers the int $0x80 gate (DPL 3). BSP, once.
void user_init(void);

// Switches to run->as (write_cr3), runs prog at CPL3 with rdi = arg
// until it calls SYS_EXIT, switches back to the kernel's CR3 and returns
// the exit value. Callable from IPI handlers too.
uint64_t user_run(struct user_run* run, const uint8_t* prog, uint64_t arg);

// Runs prog at CPL3 in whatever address space is loaded now (no CR3
// write): for callers that switch through switch_mm_irqs_off (tlbflush.h).
// run->as is not used for the switch.
uint64_t user_run_loaded(struct user_run* run, const uint8_t* prog, uint64_t arg);
// The same with four arguments: rdi = a0, rsi = a1, rdx = a2, r10 = a3.
uint64_t user_run_args(struct user_run* run, const uint8_t* prog, uint64_t a0, uint64_t a1,
                       uint64_t a2, uint64_t a3);
