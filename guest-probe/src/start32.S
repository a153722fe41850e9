// 32-bit entry for both boot protocols, static page tables, and the switch
// to long mode (shared by the BSP and the APs).
//
// The loader leaves us in 32-bit protected mode, paging off, flat segments:
//   multiboot v1: EAX = 0x2BADB002, EBX = multiboot info
//   PVH:          EBX = struct hvm_start_info (magic 0x336ec578)
// Nothing the loader set up (GDT, IDT, stack) is trusted.
//
// The only MOV-to-CR3 outside the tlb_* stubs is at boot32_load_cr3 below.
// It runs once per CPU (BSP from _start32, APs from ap_start32 via the
// trampoline), always with boot_pml4, before the kernel proper runs.

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010002  // bit 1: memory info, bit 16: a.out kludge
#define STACK_SIZE 16384

// ---------------------------------------------------------------------
// Multiboot v1 header (first 8 KiB of the file, 4-byte aligned).
  .section .multiboot, "a"
  .balign 4
multiboot_header:
  .long MB_MAGIC
  .long MB_FLAGS
  .long -(MB_MAGIC + MB_FLAGS)
  .long multiboot_header  // header_addr
  .long __load_start      // load_addr
  .long __load_end        // load_end_addr (end of .data)
  .long __bss_end         // bss_end_addr (loader zero-fills up to here)
  .long _start32          // entry_addr

// ---------------------------------------------------------------------
// PVH entry note: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (18), 4-byte
// desc = 32-bit physical entry. 4-byte alignment so PT_NOTE's p_align is 4
// (QEMU aligns the name size by p_align).
  .section .note.Xen, "a", @note
  .balign 4
  .long 4       // namesz ("Xen\0")
  .long 4       // descsz
  .long 18      // XEN_ELFNOTE_PHYS32_ENTRY
  .asciz "Xen"
  .long _start32

// ---------------------------------------------------------------------
  .section .text.boot32, "ax"
  .code32
  .global _start32
_start32:
  cli
  cld
  movl %eax, boot_magic
  movl %ebx, boot_info
  xorl %esi, %esi            // esi = 0: BSP
  jmp boot32_common

  // APs arrive here from the real-mode trampoline (CS = boot GDT 0x18).
  .global ap_start32
ap_start32:
  movl $1, %esi              // esi = 1: AP

boot32_common:
  // %cs: an AP still has its real-mode DS (base 0x8000) here.
  lgdt %cs:boot_gdtr
  ljmp $0x18, $1f
1:
  movl $0x10, %eax
  movl %eax, %ds
  movl %eax, %es
  movl %eax, %ss
  movl %eax, %fs
  movl %eax, %gs

  movl %cr4, %eax
  orl $0x20, %eax            // CR4.PAE
  movl %eax, %cr4

  movl $boot_pml4, %eax
  .global boot32_load_cr3
boot32_load_cr3:             // the one boot-time CR3 load (BSP and APs)
  movl %eax, %cr3

  movl $0xC0000080, %ecx     // IA32_EFER
  rdmsr
  orl $0x100, %eax           // EFER.LME
  wrmsr

  movl %cr0, %eax
  orl $0x80010001, %eax      // CR0.PG | CR0.WP | CR0.PE
  movl %eax, %cr0
  ljmp $0x08, $start64

// ---------------------------------------------------------------------
  .text
  .code64
start64:
  movl $0x10, %eax
  movl %eax, %ds
  movl %eax, %es
  movl %eax, %ss
  xorl %eax, %eax
  movl %eax, %fs
  movl %eax, %gs
  testl %esi, %esi
  jnz ap64

  // BSP: CPU index 0, stack cpu_stacks[0].
  leaq cpu_stacks + STACK_SIZE(%rip), %rsp
  xorl %ebp, %ebp
  call kmain
  jmp halt_forever

ap64:
  // Pick the stack by initial APIC id (CPUID.1:EBX[31:24]) through
  // apic_to_cpu[], which the BSP filled from the MP table. 0 there means
  // "not an AP we started" (index 0 is the BSP): park.
  movl $1, %eax
  cpuid
  shrl $24, %ebx
  leaq apic_to_cpu(%rip), %rax
  movzbl (%rax, %rbx), %edi
  testl %edi, %edi
  jz halt_forever
  movl %edi, %eax
  incl %eax
  shlq $14, %rax             // (index + 1) * STACK_SIZE
  leaq cpu_stacks(%rip), %rsp
  addq %rax, %rsp
  xorl %ebp, %ebp
  call ap_main

  .global halt_forever
halt_forever:
  cli
  hlt
  jmp halt_forever

// ---------------------------------------------------------------------
// Boot GDT: used by the 32-bit path and by the trampoline. The kernel
// loads its final GDT (with user segments and TSSs) in gdt.c.
  .section .rodata
  .balign 16
  .global boot_gdt
boot_gdt:
  .quad 0
  .quad 0x00AF9B000000FFFF   // 0x08: 64-bit code
  .quad 0x00CF93000000FFFF   // 0x10: data
  .quad 0x00CF9B000000FFFF   // 0x18: 32-bit code
boot_gdt_end:
  // Absolute, so the trampoline's copy of the GDTR can use it.
  .global boot_gdt_limit
  .set boot_gdt_limit, boot_gdt_end - boot_gdt - 1
  .balign 8
boot_gdtr:
  .word boot_gdt_end - boot_gdt - 1
  .long boot_gdt

// ---------------------------------------------------------------------
// Static page tables: the first 4 GiB identity mapped with 2 MiB pages,
// supervisor only. Built by the assembler, so boot runs no loop at CPL0
// (every CPL0 instruction is emulated on the development host).
  .section .data.pagetables, "aw"
  .balign 4096
  .global boot_pml4
boot_pml4:
  .quad boot_pdpt + 0x3      // P | RW
  .fill 511, 8, 0
boot_pdpt:
  .quad boot_pd + 0x0000 + 0x3
  .quad boot_pd + 0x1000 + 0x3
  .quad boot_pd + 0x2000 + 0x3
  .quad boot_pd + 0x3000 + 0x3
  .fill 508, 8, 0
boot_pd:
  .set page, 0
  .rept 2048
  .quad (page << 21) | 0x83  // P | RW | PS
  .set page, page + 1
  .endr

  .data
  .balign 8
  .global boot_magic, boot_info
boot_magic: .long 0
boot_info:  .long 0

  // Page aligned only: this_cpu() divides the offset from cpu_stacks, so
  // no larger alignment is needed (and a 16 KiB one would break the
  // file/memory layout the multiboot a.out kludge relies on).
  .bss
  .balign 4096
  .global cpu_stacks
cpu_stacks:
  .skip STACK_SIZE * 64
