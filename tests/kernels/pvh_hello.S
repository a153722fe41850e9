/* A tiny ELF64 kernel with a PVH entry note for loader tests: the 32-bit
 * entry checks the hvm_start_info magic in EBX, prints the command line it
 * was given, and exits through port 0xf4 with code 43. Variants built from
 * this file exercise the loader's errors (see tests/CMakeLists.txt). */
        .code32
        .section .text
        .globl _start
_start:
        cmpl $0x336ec578, (%ebx)
        jne bad
        mov 24(%ebx), %esi        /* cmdline_paddr */
1:      movb (%esi), %al
        test %al, %al
        jz done
        mov $0x3f8, %dx
        outb %al, %dx
        inc %esi
        jmp 1b
done:   mov $10, %al
        mov $0x3f8, %dx
        outb %al, %dx
        mov $43, %al
        outb %al, $0xf4
        hlt
bad:    mov $98, %al
        outb %al, $0xf4
        hlt

#ifndef NO_NOTE
        .section .note.Xen, "a", @note
        .balign 4
        .long 4                   /* namesz */
        .long 4                   /* descsz */
        .long 18                  /* XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .long PVH_ENTRY
#endif
