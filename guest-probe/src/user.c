#include "user.h"

#include "gdt.h"
#include "idt.h"
#include "probe.h"
#include "smp.h"
#include "tlb.h"
#include "tlbflush.h"
#include "vm.h"

extern const uint8_t __user_text_start[];

uint64_t user_enter(uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t* save_rsp,
                    uint64_t* tss_rsp0, const uint64_t* extra);

user_scenario_fn user_scenario_hook;
void user_return(uint64_t saved_rsp, uint64_t value) __attribute__((noreturn));

uint64_t user_entry(const uint8_t* prog) {
  return USER_CODE_VA + (uint64_t)(prog - __user_text_start);
}

// The mm calls run like Linux syscalls: interrupts on (flush IPIs and
// the waits inside flush_tlb_mm_range need them), in the caller's mm.
static uint64_t mm_syscall(struct trap_frame* f) {
  struct mm* mm = cpu_tlbstate[this_cpu()].loaded_mm;
  if (!mm || !mm->as || current_mm_id() != mm->ctx_id) return (uint64_t)-1;
  uint64_t flags = save_flags();
  sti();
  int64_t r = -1;
  switch (f->rax) {
    case SYS_MMAP:
      r = vm_mmap(mm, f->rdi, f->rsi, f->rdx);
      break;
    case SYS_MUNMAP:
      r = vm_munmap(mm, f->rdi, f->rsi);
      break;
    case SYS_MADVISE:
      r = vm_madvise_dontneed(mm, f->rdi, f->rsi);
      break;
    case SYS_MPROTECT:
      r = vm_mprotect(mm, f->rdi, f->rsi, (int)f->rdx);
      break;
    case SYS_LAM_ENABLE:
      mm_enable_lam(mm);
      r = 0;
      break;
    case SYS_MEMBARRIER:
      mm_register_sync_core(mm);
      r = 0;
      break;
    case SYS_SCENARIO:
      r = user_scenario_hook ? (int64_t)user_scenario_hook(mm, f->rdi) : -1;
      break;
  }
  restore_flags(flags);
  return (uint64_t)r;
}

static void syscall_handler(struct trap_frame* f) {
  struct percpu* pc = this_percpu();
  struct user_run* run = pc->user_run;
  GUEST_ASSERT((f->cs & 3) == 3 && run);
  event_emit(TLBSCOPE_EV_USER_EXIT, 0, current_mm_id(), SYSCALL_VECTOR, 0, 0);
  switch (f->rax) {
    case SYS_EXIT:
      pc->user_run = 0;
      user_return(pc->user_return_rsp, f->rdi);
    case SYS_YIELD:
      run->yields++;
      f->rax = run->on_yield ? run->on_yield(run, run->yields, f->rdi) : 0;
      break;
    case SYS_GETCPU:
      f->rax = pc->index;
      break;
    case SYS_MMAP:
    case SYS_MUNMAP:
    case SYS_MADVISE:
    case SYS_MPROTECT:
    case SYS_LAM_ENABLE:
    case SYS_MEMBARRIER:
    case SYS_SCENARIO:
      f->rax = mm_syscall(f);
      break;
    default:
      f->rax = (uint64_t)-1;
      break;
  }
  tlb_user_enter();
}

// A #PF at CPL3 inside the user window ends the task with USER_FAULTED
// (a read of an unmapped page, a write to a read-only one): the scenarios
// expect some accesses to fault.
static int user_pf_fixup(struct trap_frame* f) {
  struct percpu* pc = this_percpu();
  if ((f->cs & 3) != 3 || !pc->user_run) return 0;
  uint64_t cr2 = read_cr2();
  if (cr2 < USER_BASE || cr2 >= USER_BASE + (1ull << 30)) return 0;
  event_emit(TLBSCOPE_EV_USER_EXIT, 0, current_mm_id(), 14, 0, 0);
  pc->user_faults++;
  pc->user_run = 0;
  user_return(pc->user_return_rsp, USER_FAULTED);
}

// On kvm_pvm (the development host) a CPL3 `int $0x80` never reaches the
// DPL-3 gate: KVM cannot emulate `int n` and injects #UD at the int
// instruction instead. Treat exactly that as the syscall: a #UD from CPL3
// whose bytes are `cd 80` (readable here, the task's CR3 is live) is
// advanced past and dispatched like the gate would have. On VMX/SVM hosts
// the gate is taken directly and this never runs.
static int int80_fixup(struct trap_frame* f) {
  if ((f->cs & 3) != 3 || !this_percpu()->user_run) return 0;
  const volatile uint8_t* insn = (const volatile uint8_t*)f->rip;
  if (f->rip < USER_CODE_VA || f->rip >= USER_CODE_VA + 0x100000) return 0;
  if (insn[0] != 0xcd || insn[1] != SYSCALL_VECTOR) return 0;
  f->rip += 2;
  this_percpu()->int80_via_ud++;
  syscall_handler(f);
  return 1;
}

void user_init(void) {
  idt_set_handler(SYSCALL_VECTOR, syscall_handler, 3);
  idt_set_fixup(6, int80_fixup);
  idt_set_fixup(14, user_pf_fixup);
}

static uint64_t run_loaded(struct user_run* run, const uint8_t* prog, uint64_t arg,
                           const uint64_t* extra) {
  struct percpu* pc = this_percpu();
  GUEST_ASSERT(pc->user_run == 0);  // no nesting
  run->yields = 0;
  pc->user_run = run;
  uint64_t flags = irq_save();  // no interrupt between the check and iretq
  tlb_user_enter();
  uint64_t r = user_enter(user_entry(prog), USER_STACK_TOP, arg, &pc->user_return_rsp,
                          gdt_tss_rsp0(this_cpu()), extra);
  restore_flags(flags);
  return r;
}

uint64_t user_run_loaded(struct user_run* run, const uint8_t* prog, uint64_t arg) {
  return run_loaded(run, prog, arg, 0);
}

uint64_t user_run_args(struct user_run* run, const uint8_t* prog, uint64_t a0, uint64_t a1,
                       uint64_t a2, uint64_t a3) {
  const uint64_t extra[3] = {a1, a2, a3};
  return run_loaded(run, prog, a0, extra);
}

uint64_t user_run(struct user_run* run, const uint8_t* prog, uint64_t arg) {
  write_cr3(aspace_cr3(run->as));
  uint64_t ret = user_run_loaded(run, prog, arg);
  write_cr3(kernel_cr3());
  return ret;
}
