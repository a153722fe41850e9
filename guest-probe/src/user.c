#include "user.h"

#include "gdt.h"
#include "idt.h"
#include "probe.h"
#include "smp.h"
#include "tlb.h"

extern const uint8_t __user_text_start[];

uint64_t user_enter(uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t* save_rsp,
                    uint64_t* tss_rsp0);
void user_return(uint64_t saved_rsp, uint64_t value) __attribute__((noreturn));

uint64_t user_entry(const uint8_t* prog) {
  return USER_CODE_VA + (uint64_t)(prog - __user_text_start);
}

static void syscall_handler(struct trap_frame* f) {
  struct percpu* pc = this_percpu();
  struct user_run* run = pc->user_run;
  GUEST_ASSERT((f->cs & 3) == 3 && run);
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
    default:
      f->rax = (uint64_t)-1;
      break;
  }
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
}

uint64_t user_run_loaded(struct user_run* run, const uint8_t* prog, uint64_t arg) {
  struct percpu* pc = this_percpu();
  GUEST_ASSERT(pc->user_run == 0);  // no nesting
  run->yields = 0;
  pc->user_run = run;
  return user_enter(user_entry(prog), USER_STACK_TOP, arg, &pc->user_return_rsp,
                    gdt_tss_rsp0(this_cpu()));
}

uint64_t user_run(struct user_run* run, const uint8_t* prog, uint64_t arg) {
  write_cr3(aspace_cr3(run->as));
  uint64_t ret = user_run_loaded(run, prog, arg);
  write_cr3(kernel_cr3());
  return ret;
}
