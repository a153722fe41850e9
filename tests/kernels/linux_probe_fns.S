/* Linux-shaped function entries for the Linux probe tests
 * (tests/unit/linux_probes_test.cc): each starts the way a real kernel's
 * can, so each entry plan is exercised; ret_* are return addresses the
 * tests "call" from. Linked high (linux_probe_fns.ld) like a vmlinux. */
	.text
	.globl switch_mm_irqs_off, enter_lazy_tlb, flush_tlb_mm_range
	.globl native_flush_tlb_multi, flush_tlb_func, tlb_gather_mmu, tlb_finish_mmu
	.globl flush_tlb_one_kernel, flush_tlb_all, do_flush_tlb_all
	.globl finish_task_switch.isra.0, finish_task_switch_end
	.globl ret_0, ret_1, ret_2, ret_3, ret_4, ret_5, ret_6, system_state_word
	.globl syscall_exit_to_user_mode, __x86_return_thunk
switch_mm_irqs_off:          /* IBT: endbr64, emulated as a 4-byte no-op */
	endbr64
	push %rbp
	ret
enter_lazy_tlb:              /* push %rbx: emulated */
	push %rbx
	ret
flush_tlb_mm_range:          /* push %r12 (REX.B): emulated */
	push %r12
	ret
native_flush_tlb_multi:      /* ftrace's NOP, then a mov: stepped */
	.byte 0x0f, 0x1f, 0x44, 0x00, 0x00  /* nopl 0x0(%rax,%rax,1) */
	mov %rdi, %rax
	ret
flush_tlb_func:
	endbr64
	ret
tlb_gather_mmu:
	endbr64
	ret
tlb_finish_mmu:
	endbr64
	/* mm_tlb_flush_nested(tlb->mm): 0x98 is tlb_flush_pending in
	   fake_kernel.elf's mm_struct (linux_probes_test checks it) */
	mov (%rdi), %rax
	mov 0x98(%rax), %eax
	ret
flush_tlb_one_kernel:        /* count_vm_tlb_event(): a per-CPU increment, stepped */
	incq %gs:0x100
	ret
flush_tlb_all:
	push %rbp
	ret
do_flush_tlb_all:
	endbr64
	ret
/* An exit to user mode returning through the return thunk (5-byte jmp),
   and the thunk: the tests of placing after boot add their symbols. */
syscall_exit_to_user_mode:
	nop
	.byte 0xe9
	.long __x86_return_thunk - . - 4
__x86_return_thunk:
	ret
	int3
/* finish_task_switch()'s sync_core() for a membarrier SYNC_CORE mm: the
   SERIALIZE form and iret_to_self() (a compiler's local copy: .isra.0) */
finish_task_switch.isra.0:
	push %rbp
	.byte 0x0f, 0x01, 0xe8       /* serialize: Capstone 4 does not decode it */
	jmp 1f
	mov %ss, %eax
	push %rax
	push %rsp
	addq $8, (%rsp)
	pushf
	mov %cs, %eax
	push %rax
	push $1f
	iretq
1:	pop %rbp
	ret
finish_task_switch_end:
ret_0:	nop
ret_1:	nop
ret_2:	nop
ret_3:	nop
ret_4:	nop
ret_5:	nop
ret_6:	nop
	ret
	.fill 16, 1, 0xcc  /* padding: an entry plan reads 16 bytes */
/* Linux's system_state, for the tests of placing after boot (in .text:
   this file has one loadable segment). */
system_state_word:
	.long 0
/* TLB instructions in .text, trapped from the start when a test asks
   (LinuxProbesTest::start_sites_): native_flush_tlb_one_user's invlpg,
   a CR3 load. */
	.globl start_tlb_sites
start_tlb_sites:
	invlpg (%rdi)
	mov %rax, %cr3
	invlpg 8(%rsi)
	ret
/* write_cr3() on a paravirt kernel (Debian's 6.1): a call through pv_ops
   that apply_alternatives() replaces at boot with the inline
   `mov %rdi,%cr3` of .altinstr_replacement (the entry below has the fake
   kernel's struct alt_instr layout: 6.12's, 14 bytes). */
	.globl pv_write_cr3_site, alt_cr3_replacement
pv_write_cr3_site:
	.byte 0xff, 0x15
	.long 0
	ret
	.section .altinstr_replacement, "ax"
alt_cr3_replacement:
	mov %rdi, %cr3
alt_cr3_replacement_end:
	.section .altinstructions, "a"
	.long pv_write_cr3_site - .
	.long alt_cr3_replacement - .
	.long 0
	.byte 6
	.byte alt_cr3_replacement_end - alt_cr3_replacement
