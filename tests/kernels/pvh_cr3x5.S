/* A PVH kernel with five MOV-to-CR3 sites, one more than there are debug
 * registers, executed once each with paging off and interrupts disabled,
 * then exit code 0. With `--breakpoints hw` one site is uncovered and a
 * single-step window must notice it. */
        .code32
        .section .text
        .globl _start
        .type _start, @function
_start:
        mov $0x1000, %eax
cr3_site_1: mov %eax, %cr3
        mov $0x2000, %eax
cr3_site_2: mov %eax, %cr3
        mov $0x3000, %eax
cr3_site_3: mov %eax, %cr3
        mov $0x4000, %eax
cr3_site_4: mov %eax, %cr3
        mov $0x5000, %eax
cr3_site_5: mov %eax, %cr3
        xor %eax, %eax
        outb %al, $0xf4
        hlt
        .size _start, .-_start

        .section .note.Xen, "a", @note
        .balign 4
        .long 4, 4, 18
        .asciz "Xen"
        .long _start
