#include "probe.h"

#include <stdarg.h>

#include "console.h"
#include "cpu.h"
#include "lib.h"
#include "smp.h"

static volatile uint32_t passed, failed;

// The message lives in this CPU's percpu slot and is identity mapped, so
// its address is its guest-physical address. The VMM copies it during the
// OUT exit; the buffer is free again when outl returns.
static struct tlbscope_probe_msg* msg_begin(uint16_t kind) {
  struct percpu* pc = this_percpu();
  struct tlbscope_probe_msg* m = &pc->msg;
  memset(m, 0, sizeof(*m));
  m->magic = TLBSCOPE_PROBE_MAGIC;
  m->abi_version = TLBSCOPE_PROBE_ABI_VERSION;
  m->kind = kind;
  m->cpu = pc->apic_id;
  return m;
}

static void msg_send(struct tlbscope_probe_msg* m) {
  outl((uint32_t)(uintptr_t)m, TLBSCOPE_PROBE_PORT);
}

void guest_exit(int code) {
  outb((uint8_t)code, TLBSCOPE_EXIT_PORT);
  // Without an exit device (or if it returns), stop here for good.
  for (;;) __asm__ volatile("cli; hlt");
}

void probe_hello(uint32_t cpus, const char* scenario, uint32_t boot_proto) {
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_HELLO);
  m->arg[0] = cpus;
  m->arg[1] = boot_proto;
  strlcpy(m->name, "guest-probe", sizeof(m->name));
  strlcpy(m->text, scenario, sizeof(m->text));
  msg_send(m);
}

void probe_cpu_online(uint32_t apic_id) {
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_CPU_ONLINE);
  m->arg[0] = apic_id;
  msg_send(m);
}

int probe_present(void) {
  // tlbscope answers a read of the probe port with its ABI version; a
  // machine without the channel (QEMU) reads an unassigned port as 0xff.
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"((uint16_t)TLBSCOPE_PROBE_PORT));
  return v == TLBSCOPE_PROBE_ABI_VERSION;
}

void probe_ring(uint64_t ring_pa) {
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_RING);
  m->arg[0] = ring_pa;
  msg_send(m);
}

void probe_log(const char* text) {
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_LOG);
  strlcpy(m->text, text, sizeof(m->text));
  msg_send(m);
}

void probe_exception(uint64_t vector, uint64_t rip, uint64_t error, uint64_t cr2) {
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_EXCEPTION);
  m->arg[0] = vector;
  m->arg[1] = rip;
  m->arg[2] = error;
  m->arg[3] = cr2;
  msg_send(m);
}

void probe_tlb_counts(const struct tlb_counts* c) {
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_TLB_COUNTS);
  m->arg[0] = c->cr3_writes;
  m->arg[1] = c->invlpgs;
  m->arg[2] = c->invpcids;
  msg_send(m);
}

void probe_done(void) {
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_DONE);
  m->arg[0] = passed;
  m->arg[1] = failed;
  msg_send(m);
}

int report(const char* name, int pass, const char* fmt, ...) {
  char detail[sizeof(((struct tlbscope_probe_msg*)0)->text)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  __atomic_add_fetch(pass ? &passed : &failed, 1, __ATOMIC_RELAXED);
  printf("%s %s: %s\n", pass ? "PASS" : "FAIL", name, detail);
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_RESULT);
  m->arg[0] = pass ? 1 : 0;
  strlcpy(m->name, name, sizeof(m->name));
  strlcpy(m->text, detail, sizeof(m->text));
  msg_send(m);
  return pass;
}

uint32_t report_passed(void) { return passed; }
uint32_t report_failed(void) { return failed; }

void guest_assert_fail(const char* file, int line, const char* expr) {
  printf("ASSERT failed on cpu %d at %s:%d: %s\n", this_cpu(), file, line, expr);
  struct tlbscope_probe_msg* m = msg_begin(TLBSCOPE_PROBE_ASSERT);
  m->line = (uint32_t)line;
  strlcpy(m->file, file, sizeof(m->file));
  strlcpy(m->text, expr, sizeof(m->text));
  msg_send(m);
  guest_exit(GUEST_EXIT_ASSERT);
}
