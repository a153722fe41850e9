// The kernel's GDT: flat kernel/user segments plus one TSS per CPU (its
// rsp0 is the stack the CPU switches to on a trap from user mode).
#pragma once

#include <stdint.h>

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_USER_DATA 0x1b  // 0x18 | RPL 3
#define GDT_USER_CODE 0x23  // 0x20 | RPL 3
#define GDT_TSS_BASE 0x28   // CPU n's TSS at 0x28 + 16 * n

// Loads the GDT and this CPU's TSS on CPU `cpu` (replacing the boot GDT).
void gdt_load_cpu(int cpu);
// Where user_enter() stores the kernel stack for traps from CPL3.
uint64_t* gdt_tss_rsp0(int cpu);
