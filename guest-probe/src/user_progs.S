// CPL3 programs. Mapped at USER_CODE_VA in every user address space (see
// mm.h), so they must be position independent and touch only user VAs.
// Syscall ABI: int $0x80 (SYSCALL_VECTOR), rax = number, rdi = argument, result in rax.
// No TLB instructions here (they would #GP at CPL3 anyway).
#include "user_abi.h"

  .section .user_text, "ax"
  .code64

// uprog_sum_squares(n): sum of i*i for i = 1..n, stored at USER_DATA_VA
// and passed to SYS_EXIT. Checks native CPL3 execution and the data page.
  .global uprog_sum_squares
uprog_sum_squares:
  xorl %eax, %eax
  movq %rdi, %rcx
  testq %rcx, %rcx
  jz 2f
1:
  movq %rcx, %rdx
  imulq %rdx, %rdx
  addq %rdx, %rax
  decq %rcx
  jnz 1b
2:
  movabsq $USER_DATA_VA, %rdx
  movq %rax, (%rdx)
  movq %rax, %rdi
  movl $SYS_EXIT, %eax
  int $0x80
  ud2

// uprog_read(va): SYS_EXIT(*(uint64_t *)va).
  .global uprog_read
uprog_read:
  movq (%rdi), %rdi
  movl $SYS_EXIT, %eax
  int $0x80
  ud2

// uprog_read3(va): read *va three times with a SYS_YIELD after each of the
// first two reads (the kernel edits the PTE / flushes in between), then
// SYS_EXIT with the third value. Each yield passes the value just read.
  .global uprog_read3
uprog_read3:
  movq %rdi, %rbx
  movq (%rbx), %rdi
  movl $SYS_YIELD, %eax
  int $0x80
  movq (%rbx), %rdi
  movl $SYS_YIELD, %eax
  int $0x80
  movq (%rbx), %rdi
  movl $SYS_EXIT, %eax
  int $0x80
  ud2

// uprog_getcpu(): SYS_EXIT(SYS_GETCPU()).
  .global uprog_getcpu
uprog_getcpu:
  movl $SYS_GETCPU, %eax
  int $0x80
  movq %rax, %rdi
  movl $SYS_EXIT, %eax
  int $0x80
  ud2

// uprog_sum3(va | n): with va page aligned and n = the low 12 bits, sum
// the first qword of the n pages va, va + 4 KiB, ... three times, with a
// SYS_YIELD after each of the first two sums (passing the sum), then
// SYS_EXIT with the third. The shootdown scenario repoints and flushes
// the pages in between.
  .global uprog_sum3
uprog_sum3:
  movq %rdi, %rbx
  andq $-4096, %rbx          // va
  movq %rdi, %r12
  andq $4095, %r12           // n
  movl $3, %r13d             // rounds left
1:
  xorl %edi, %edi
  movq %rbx, %rdx
  movq %r12, %rcx
  testq %rcx, %rcx
  jz 3f
2:
  addq (%rdx), %rdi
  addq $4096, %rdx
  decq %rcx
  jnz 2b
3:
  decq %r13
  jz 4f
  movl $SYS_YIELD, %eax
  int $0x80
  jmp 1b
4:
  movl $SYS_EXIT, %eax
  int $0x80
  ud2

// uprog_write(va, value): *(uint64_t *)va = value; SYS_EXIT(0).
  .global uprog_write
uprog_write:
  movq %rsi, (%rdi)
  xorl %edi, %edi
  movl $SYS_EXIT, %eax
  int $0x80
  ud2

// uprog_syscall(nr, a0, a1, a2): SYS_EXIT(syscall nr(a0, a1, a2)). The
// kernel passes the arguments in rdi, rsi, rdx, r10 (user_run_args).
  .global uprog_syscall
uprog_syscall:
  movq %rdi, %rax
  movq %rsi, %rdi
  movq %rdx, %rsi
  movq %r10, %rdx
  int $0x80
  movq %rax, %rdi
  movl $SYS_EXIT, %eax
  int $0x80
  ud2
