// Interrupt/exception entry stubs and the user-mode enter/return pair.
//
// Every vector gets a stub that pushes a uniform frame (a zero error code
// where the CPU pushes none, then the vector number) and jumps to
// isr_common, which saves the GPRs and calls trap_dispatch(frame) (idt.c).
// The layout matches struct trap_frame in idt.h.
  .text
  .code64

  .altmacro
  .macro ISR_STUB vec
  .balign 16
isr_stub_\vec:
  .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
  .else
  pushq $0
  .endif
  pushq $\vec
  jmp isr_common
  .endm

  .set vec, 0
  .rept 256
  ISR_STUB %vec
  .set vec, vec + 1
  .endr

  .balign 16
isr_common:
  pushq %rax
  pushq %rbx
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %rbp
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, %rdi
  cld
  call trap_dispatch
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rbp
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rbx
  popq %rax
  addq $16, %rsp             // vector, error code
  iretq

// Table of stub addresses for idt.c.
  .section .rodata
  .balign 8
  .global isr_stub_table
isr_stub_table:
  .macro ISR_ADDR vec
  .quad isr_stub_\vec
  .endm
  .set vec, 0
  .rept 256
  ISR_ADDR %vec
  .set vec, vec + 1
  .endr

// long user_enter(uint64_t rip, uint64_t rsp, uint64_t arg,
//                 uint64_t *save_rsp, uint64_t *tss_rsp0, const uint64_t *extra)
//
// Saves the callee-saved registers and RFLAGS on the kernel stack, records
// that stack pointer in *save_rsp and in the TSS's rsp0 (so traps from user
// mode land below the saved state, even when called from an IPI handler
// deep in the stack), then iretq's to CPL3 with rdi = arg and IF = 1
// (and rsi, rdx, r10 = extra[0..2] when extra is not 0).
// Returns the value the task passes to SYS_EXIT (through user_return).
  .text
  .global user_enter
user_enter:
  pushfq
  pushq %rbx
  pushq %rbp
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rcx)
  movq %rsp, (%r8)
  pushq $0x1b                // SS: user data, RPL 3
  pushq %rsi                 // RSP
  pushq $0x202               // RFLAGS: IF
  pushq $0x23                // CS: user code64, RPL 3
  pushq %rdi                 // RIP
  movq %rdx, %rdi
  xorl %esi, %esi
  xorl %edx, %edx
  xorl %r10d, %r10d
  testq %r9, %r9             // extra arguments: rsi, rdx, r10
  jz 1f
  movq (%r9), %rsi
  movq 8(%r9), %rdx
  movq 16(%r9), %r10
1:
  xorl %eax, %eax
  xorl %ebx, %ebx
  xorl %ecx, %ecx
  xorl %ebp, %ebp
  xorl %r8d, %r8d
  xorl %r9d, %r9d
  xorl %r11d, %r11d
  xorl %r12d, %r12d
  xorl %r13d, %r13d
  xorl %r14d, %r14d
  xorl %r15d, %r15d
  iretq

// void user_return(uint64_t saved_rsp, long value)  (noreturn)
// Called from the SYS_EXIT handler: drops the trap frame and resumes
// user_enter's caller with value.
  .global user_return
user_return:
  movq %rdi, %rsp
  movq %rsi, %rax
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbp
  popq %rbx
  popfq
  ret
