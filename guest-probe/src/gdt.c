#include "gdt.h"

#include <stddef.h>

#include "smp.h"

struct tss {
  uint32_t reserved0;
  uint64_t rsp0, rsp1, rsp2;
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
} __attribute__((packed));

struct dtr {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed));

#define GDT_FIXED 5

static uint64_t gdt[GDT_FIXED + 2 * MAX_CPUS] __attribute__((aligned(16))) = {
    0,
    0x00AF9B000000FFFF,  // 0x08 kernel code64
    0x00CF93000000FFFF,  // 0x10 kernel data
    0x00CFF3000000FFFF,  // 0x18 user data (DPL 3)
    0x00AFFB000000FFFF,  // 0x20 user code64 (DPL 3)
};

static struct tss tss[MAX_CPUS] __attribute__((aligned(16)));

uint64_t* gdt_tss_rsp0(int cpu) {
  // rsp0 is only 4-byte aligned in the packed TSS; x86 does not mind.
  return (uint64_t*)(void*)((uint8_t*)&tss[cpu] + offsetof(struct tss, rsp0));
}

void gdt_load_cpu(int cpu) {
  struct tss* t = &tss[cpu];
  // No I/O bitmap: user-mode port I/O faults (IOPL is 0 too).
  t->iomap_base = sizeof(struct tss);
  t->rsp0 = (uint64_t)(uintptr_t)&cpu_stacks[cpu + 1];

  uint64_t base = (uint64_t)(uintptr_t)t;
  uint64_t limit = sizeof(struct tss) - 1;
  gdt[GDT_FIXED + 2 * cpu] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                             (0x89ull << 40) |  // present, 64-bit TSS
                             ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
  gdt[GDT_FIXED + 2 * cpu + 1] = base >> 32;

  struct dtr d = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
  __asm__ volatile(
      "lgdt %0\n\t"
      "pushq %1\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n"
      "1:\n\t"
      "movl %2, %%eax\n\t"
      "movl %%eax, %%ds\n\t"
      "movl %%eax, %%es\n\t"
      "movl %%eax, %%ss\n\t"
      "ltr %w3\n\t"
      :
      : "m"(d), "i"(GDT_KERNEL_CODE), "i"(GDT_KERNEL_DATA), "r"((uint16_t)(GDT_TSS_BASE + 16 * cpu))
      : "rax", "memory");
}
