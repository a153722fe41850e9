// IDT with a stub for every vector (isr.S) and a C dispatch table.
// Exceptions (0-31) are fatal and reported; other vectors go to the
// handler registered for them, or are fatal if none is.
#pragma once

#include <stdint.h>

// Layout pushed by isr.S (lowest address first).
struct trap_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

typedef void (*trap_handler)(struct trap_frame* f);

// Builds the IDT (BSP, once).
void idt_init(void);
// Loads it on the calling CPU.
void idt_load(void);
// Loads an empty IDT (limit 0): any exception then triple-faults.
void idt_load_empty(void);
// dpl 3 makes the gate reachable with `int` from user mode.
void idt_set_handler(int vector, trap_handler h, int dpl);
// An exception vector (0-31) is fatal unless its fixup returns nonzero
// (then the frame, possibly edited, is resumed).
typedef int (*trap_fixup)(struct trap_frame* f);
void idt_set_fixup(int vector, trap_fixup fixup);
