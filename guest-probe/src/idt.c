#include "idt.h"

#include "console.h"
#include "cpu.h"
#include "events.h"
#include "gdt.h"
#include "probe.h"
#include "smp.h"
#include "tlbflush.h"

struct idt_gate {
  uint16_t off_lo;
  uint16_t sel;
  uint8_t ist;
  uint8_t type;  // P | DPL | 0xe (64-bit interrupt gate: IF cleared)
  uint16_t off_mid;
  uint32_t off_hi;
  uint32_t reserved;
} __attribute__((packed));

struct dtr {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed));

extern const uint64_t isr_stub_table[256];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static trap_handler handlers[256];
static trap_fixup fixups[32];

static const char* const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};

static void set_gate(int vec, uint64_t addr, int dpl) {
  struct idt_gate* g = &idt[vec];
  g->off_lo = (uint16_t)addr;
  g->sel = GDT_KERNEL_CODE;
  g->ist = 0;
  g->type = (uint8_t)(0x80 | (dpl << 5) | 0x0e);
  g->off_mid = (uint16_t)(addr >> 16);
  g->off_hi = (uint32_t)(addr >> 32);
  g->reserved = 0;
}

void idt_init(void) {
  for (int v = 0; v < 256; v++) set_gate(v, isr_stub_table[v], 0);
}

void idt_set_handler(int vector, trap_handler h, int dpl) {
  handlers[vector] = h;
  set_gate(vector, isr_stub_table[vector], dpl);
}

void idt_set_fixup(int vector, trap_fixup fixup) { fixups[vector] = fixup; }

void idt_load(void) {
  struct dtr d = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
  __asm__ volatile("lidt %0" : : "m"(d));
}

void idt_load_empty(void) {
  struct dtr d = {0, 0};
  __asm__ volatile("lidt %0" : : "m"(d));
}

static void __attribute__((noreturn)) fatal_trap(struct trap_frame* f) {
  uint64_t cr2 = read_cr2();
  const char* name = f->vector < 32 ? exception_names[f->vector] : "IRQ";
  printf(
      "EXCEPTION %s vector %lu on cpu %d at rip 0x%lx (cpl %lu) error 0x%lx "
      "cr2 0x%lx rsp 0x%lx\n",
      name, f->vector, this_cpu(), f->rip, f->cs & 3, f->error, cr2, f->rsp);
  probe_exception(f->vector, f->rip, f->error, cr2);
  guest_exit(GUEST_EXIT_EXCEPTION);
}

void trap_dispatch(struct trap_frame* f) {
  if (f->vector < 32) {
    if (fixups[f->vector] && fixups[f->vector](f)) return;
    fatal_trap(f);
  }
  trap_handler h = f->vector < 256 ? handlers[f->vector] : 0;
  if (!h) fatal_trap(f);
  int from_user = (f->cs & 3) == 3 && f->vector != 0x80;  // syscalls: user.c
  if (from_user) event_emit(TLBSCOPE_EV_USER_EXIT, 0, current_mm_id(), f->vector, 0, 0);
  if (f->vector != VEC_SPURIOUS && f->vector != 0x80) {
    event_emit(TLBSCOPE_EV_IPI_RECEIVED, 0, f->vector, 0, 0, 0);
  }
  h(f);
  if (from_user) tlb_user_enter();
}
