/* TLB instructions at known places and in unusual encodings, for
 * `tlbscope sites`. Every real site has a label expect_<kind>_<form>; the
 * test checks that exactly those addresses are found. Decoys (a CR3 read,
 * a CR4 write, the bytes of a CR3 write inside an immediate, the same bytes
 * in a data section) must not be. */
        .text
        .globl func_switch_mm
        .type func_switch_mm, @function
func_switch_mm:
        .irp r, rax,rbx,rcx,rdx,rsi,rdi,rbp,rsp,r8,r9,r10,r11,r12,r13,r14,r15
expect_cr3_\r:
        mov %\r, %cr3
        .endr
        ret
        .size func_switch_mm, .-func_switch_mm

        .globl func_flush_one
        .type func_flush_one, @function
func_flush_one:
expect_invlpg_base:     invlpg (%rax)
expect_invlpg_disp:     invlpg 0x40(%rbx)
expect_invlpg_sib:      invlpg 0x10(%rax,%rcx,8)
expect_invlpg_index:    invlpg 0x1000(,%rdx,4)
expect_invlpg_rip:      invlpg target(%rip)
expect_invlpg_fs:       invlpg %fs:(%rsi)
expect_invlpg_gs_sib:   invlpg %gs:8(%r12,%r13,2)
expect_invlpg_addr32:   addr32 invlpg (%eax)
expect_invlpg_abs:      invlpg 0x12345678
expect_invlpg_r15:      invlpg -8(%r15)
        ret
        .size func_flush_one, .-func_flush_one

        .globl func_invpcid
        .type func_invpcid, @function
func_invpcid:
expect_invpcid_rax:     invpcid (%rsi), %rax
expect_invpcid_r8_sib:  invpcid 0x20(%r9,%r10,4), %r8
expect_invpcid_rip:     invpcid desc(%rip), %rdx
        ret
        .size func_invpcid, .-func_invpcid

        .globl decoys
        .type decoys, @function
decoys:
        mov $0xd8220f, %eax              /* b8 0f 22 d8 00: CR3-write bytes in an immediate */
        movabs $0x0382f0f660138010f, %rax /* invlpg / invpcid bytes in an immediate */
        mov %cr3, %rax                   /* a read */
        mov %rax, %cr4                   /* not CR3 */
        mov %rax, %cr0
        ret
        .size decoys, .-decoys

        .section .entry.text, "ax"
        .globl entry_SYSCALL_64
        .type entry_SYSCALL_64, @function
entry_SYSCALL_64:
        nop
expect_cr3_pti:
        mov %rdi, %cr3
        ret
        .size entry_SYSCALL_64, .-entry_SYSCALL_64

        .data
target: .quad 0
desc:   .quad 0, 0
        .byte 0x0f, 0x22, 0xd8          /* mov %rax,%cr3, but in data */
