// Scenarios that fail on purpose, one per VMM error path.
#include "console.h"
#include "cpu.h"
#include "events.h"
#include "idt.h"
#include "probe.h"
#include "scenarios.h"
#include "smp.h"

// PML4 slot 224: nothing is ever mapped there.
#define UNMAPPED_VA 0x0000700000000000ul

void scenario_crash_pf(void) {
  printf("crash-pf: reading unmapped address 0x%lx\n", UNMAPPED_VA);
  (void)*(volatile uint64_t*)UNMAPPED_VA;
  printf("crash-pf: the read returned?!\n");
  report("crash_pf", 0, "no #PF for unmapped 0x%lx", UNMAPPED_VA);
}

void scenario_assert(void) {
  volatile int answer = 41;
  printf("assert: about to fail a GUEST_ASSERT\n");
  GUEST_ASSERT(answer == 42);
  report("assert", 0, "GUEST_ASSERT did not stop the guest");
}

static void spin_forever(void* unused) {
  cli();
  for (;;) cpu_relax();
}

void scenario_hang(void) {
  printf("hang: every CPU now spins with interrupts off\n");
  for (uint32_t c = 1; c < cpu_count; c++) {
    if (READ_ONCE(percpus[c].online)) on_cpu_async((int)c, spin_forever, 0);
  }
  spin_forever(0);
}

void scenario_triple_fault(void) {
  printf("triple-fault: loading an empty IDT, then touching 0x%lx\n", UNMAPPED_VA);
  cli();
  idt_load_empty();
  // #PF cannot be delivered -> #GP -> #DF -> shutdown.
  (void)*(volatile uint64_t*)UNMAPPED_VA;
  report("triple_fault", 0, "still running after a fault with no IDT");
}

void scenario_bad_port(void) {
  printf("bad-port: writing 0x5a to unassigned port 0x1234\n");
  outb(0x5a, 0x1234);
  // Under QEMU unassigned ports are ignored; the tlbscope VMM is expected
  // to stop here.
  report("bad_port", 0, "OUT to port 0x1234 returned; nothing stopped the VM");
}

void scenario_exit_code(void) {
  printf("exit-code: exiting with code 7\n");
  probe_log("exit-code: exiting with code 7");
  guest_exit(7);
}

void scenario_hostile_ring(void) {
  for (uint64_t i = 0; i < 3; i++) event_emit(TLBSCOPE_EV_IPI_RECEIVED, 0, 0xf0 + i, 0, 0, 0);
  printf("hostile-ring: corrupting this CPU's event ring header\n");
  events_corrupt_own_ring();
  probe_log("hostile-ring: ring header corrupted");
  report("hostile_ring", 1, "ring header rewritten after registration");
}
