// Inline wrappers for the privileged x86 instructions the kernel uses.
// (TLB instructions are deliberately absent: see tlb.h.)
#pragma once

#include <stdint.h>

static inline void outb(uint8_t v, uint16_t port) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint32_t v, uint16_t port) {
  __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t* a, uint32_t* b, uint32_t* c,
                         uint32_t* d) {
  __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t read_cr2(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
static inline uint64_t read_cr3(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
#define X86_CR4_PGE (1ull << 7)
#define X86_CR4_PCIDE (1ull << 17)
static inline uint64_t read_cr4(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}
static inline void write_cr4(uint64_t v) {
  __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
// sti takes effect after the next instruction, so an interrupt that
// arrives between the two still wakes the hlt: no lost wakeups.
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline uint64_t save_flags(void) {
  uint64_t f;
  __asm__ volatile("pushfq; popq %0" : "=r"(f) : : "memory");
  return f;
}
static inline void restore_flags(uint64_t f) {
  __asm__ volatile("pushq %0; popfq" : : "r"(f) : "memory", "cc");
}
static inline uint64_t irq_save(void) {
  uint64_t f = save_flags();
  cli();
  return f;
}
// Full barrier without SSE2's mfence (the CPL0 emulator and our
// -mgeneral-regs-only build both prefer plain integer instructions).
// Linux's iret_to_self(): IRETQ is serializing, and works everywhere
// (SERIALIZE and CPUID may be missing or exit to the hypervisor).
static inline void iret_to_self(void) {
  __asm__ volatile(
      "mov %%rsp, %%rax\n\t"
      "pushq $0x10\n\t"
      "pushq %%rax\n\t"
      "pushfq\n\t"
      "pushq $0x08\n\t"
      "lea 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "iretq\n"
      "1:"
      :
      :
      : "rax", "memory", "cc");
}

static inline void smp_mb(void) { __asm__ volatile("lock orq $0, (%%rsp)" ::: "memory", "cc"); }
#define barrier() __asm__ volatile("" ::: "memory")
#define READ_ONCE(x) (*(const volatile __typeof__(x)*)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x)*)&(x) = (v))

// Busy-wait for at least `us` microseconds. The TSC frequency is not known
// (no CPUID.15H here), so assume it is at most TSC_MAX_MHZ: waits are never
// shorter than asked, possibly longer.
#define TSC_MAX_MHZ 4000
static inline uint64_t tsc_after_us(uint64_t us) { return rdtsc() + us * TSC_MAX_MHZ; }
static inline void udelay_at_least(uint64_t us) {
  uint64_t end = tsc_after_us(us);
  while (rdtsc() < end) cpu_relax();
}
