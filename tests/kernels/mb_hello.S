/* A tiny Multiboot v1 kernel for loader tests: 32-bit code, prints a line on
 * COM1 and exits through port 0xf4 with code 42. Built twice: as a flat
 * binary that relies on the header's a.out-kludge addresses (MB_AOUT=1), and
 * as an ELF32 whose program headers say where it goes (MB_AOUT=0). */
#define MB_MAGIC 0x1BADB002
#if MB_AOUT
#define MB_FLAGS 0x00010002
#else
#define MB_FLAGS 0x00000002
#endif
        .code32
        .section .text
        .globl _start
mb_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
        .long mb_header          /* header_addr */
        .long mb_header          /* load_addr */
        .long _edata             /* load_end_addr */
        .long _end               /* bss_end_addr */
        .long _start             /* entry_addr */
_start:
        cmp $0x2BADB002, %eax    /* the loader's magic */
        jne bad
        mov $msg, %esi
1:      movb (%esi), %al
        test %al, %al
        jz done
        mov $0x3f8, %dx
        outb %al, %dx
        inc %esi
        jmp 1b
done:   mov $42, %al
        outb %al, $0xf4
        hlt
bad:    mov $99, %al
        outb %al, $0xf4
        hlt
msg:    .asciz "hello from multiboot\n"
        .section .bss
        .space 64
