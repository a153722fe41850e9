// Real-mode AP trampoline. smp.c copies [trampoline_start, trampoline_end)
// to TRAMPOLINE_PA (0x8000) and sends SIPI vector 0x08, so an AP starts
// here with CS = 0x0800, IP = 0. It only enters protected mode and jumps to
// ap_start32 in the kernel image, which shares the BSP's path to long mode
// (and its single CR3 load, with boot_pml4). It runs from a copy, so it
// lives in .rodata and uses only offsets relative to trampoline_start.
  .section .rodata.trampoline, "a"
  .code16
  .global trampoline_start, trampoline_end
trampoline_start:
  cli
  cld
  movw %cs, %ax
  movw %ax, %ds
  lgdtl (tramp_gdtr - trampoline_start)
  movl %cr0, %eax
  orl $1, %eax               // CR0.PE
  movl %eax, %cr0
  ljmpl $0x18, $ap_start32   // boot GDT 32-bit code

  .balign 8
tramp_gdtr:
  .word boot_gdt_limit
  .long boot_gdt
trampoline_end:
  .code64
