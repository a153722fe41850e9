#include "smp.h"

#include "apic.h"
#include "console.h"
#include "cpu.h"
#include "events.h"
#include "gdt.h"
#include "idt.h"
#include "lib.h"
#include "probe.h"
#include "tlbflush.h"

struct percpu percpus[MAX_CPUS];
uint32_t cpu_count = 1;
uint8_t apic_to_cpu[256];

extern const uint8_t trampoline_start[], trampoline_end[];

#define MP_FP_SIG 0x5f504d5fu   // "_MP_"
#define MP_CFG_SIG 0x504d4350u  // "PCMP"

static uint8_t checksum(const uint8_t* p, uint32_t len) {
  uint8_t sum = 0;
  for (uint32_t i = 0; i < len; i++) sum += p[i];
  return sum;
}

// The MP floating pointer is on a 16-byte boundary in the BIOS ROM area
// (where the tlbscope VMM and SeaBIOS both put it).
static const uint8_t* mp_find_fp(void) {
  for (uintptr_t p = 0xf0000; p < 0x100000; p += 16) {
    const uint8_t* fp = (const uint8_t*)p;
    if (*(const uint32_t*)fp != MP_FP_SIG) continue;
    uint32_t len = fp[8] * 16u;
    if (len >= 16 && checksum(fp, len) == 0) return fp;
  }
  return 0;
}

static void add_cpu(uint32_t apic) {
  if (cpu_count >= MAX_CPUS || apic > 255) {
    printf("smp: ignoring CPU with APIC id %u (limit %d CPUs)\n", apic, MAX_CPUS);
    return;
  }
  uint32_t idx = cpu_count++;
  percpus[idx].index = idx;
  percpus[idx].apic_id = apic;
  apic_to_cpu[apic] = (uint8_t)idx;
}

uint32_t smp_discover(void) {
  uint32_t bsp = apic_id();
  percpus[0].index = 0;
  percpus[0].apic_id = bsp;
  percpus[0].online = 1;
  cpu_count = 1;

  const uint8_t* fp = mp_find_fp();
  if (!fp) {
    printf("smp: no MP table found, assuming 1 CPU\n");
    return cpu_count;
  }
  const uint8_t* cfg = (const uint8_t*)(uintptr_t) * (const uint32_t*)(fp + 4);
  if (!cfg || *(const uint32_t*)cfg != MP_CFG_SIG) {
    printf(
        "smp: MP floating pointer at %p has no PCMP table (feature1 %u), "
        "assuming 1 CPU\n",
        fp, fp[11]);
    return cpu_count;
  }
  uint16_t base_len = *(const uint16_t*)(cfg + 4);
  uint16_t entries = *(const uint16_t*)(cfg + 34);
  if (checksum(cfg, base_len) != 0) {
    printf("smp: warning: PCMP table at %p has a bad checksum\n", cfg);
  }
  int bsp_seen = 0;
  const uint8_t *e = cfg + 44, *end = cfg + base_len;
  for (uint16_t i = 0; i < entries && e < end; i++) {
    if (e[0] == 0) {  // processor: 20 bytes
      uint8_t apic = e[1];
      if (e[3] & 1) {
        if (apic == bsp) {
          bsp_seen = 1;
        } else {
          add_cpu(apic);
        }
      }
      e += 20;
    } else if (e[0] <= 4) {  // bus, I/O APIC, I/O and local interrupts
      e += 8;
    } else {
      printf("smp: unknown MP entry type %u, stopping the walk\n", e[0]);
      break;
    }
  }
  printf("smp: MP table at %p (config %p, %u entries): %u CPU(s)\n", fp, cfg, entries, cpu_count);
  if (!bsp_seen) {
    printf("smp: warning: BSP APIC id %u is not in the MP table\n", bsp);
  }
  return cpu_count;
}

uint32_t smp_online_count(void) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < cpu_count; i++) n += READ_ONCE(percpus[i].online);
  return n;
}

// --- cross-CPU calls -----------------------------------------------------

static void call_handler(struct trap_frame* f) {
  struct percpu* pc = this_percpu();
  cpu_fn fn = pc->call_fn;
  void* arg = pc->call_arg;
  volatile uint32_t* done = pc->call_done;
  int32_t wake = pc->call_wake;
  smp_mb();
  WRITE_ONCE(pc->call_busy, 0);
  apic_eoi();
  fn(arg);
  if (done) {
    smp_mb();
    *done = 1;
  }
  if (wake >= 0) apic_send_ipi(percpus[wake].apic_id, VEC_WAKE);
}

static void wake_handler(struct trap_frame* f) { apic_eoi(); }

static void queue_call(int cpu, cpu_fn fn, void* arg, volatile uint32_t* done, int wake) {
  struct percpu* t = &percpus[cpu];
  while (__atomic_exchange_n(&t->call_busy, 1, __ATOMIC_ACQUIRE)) cpu_relax();
  t->call_fn = fn;
  t->call_arg = arg;
  t->call_done = done;
  t->call_wake = wake;
  apic_send_ipi(t->apic_id, VEC_CALL);
}

void on_cpu(int cpu, cpu_fn fn, void* arg) {
  if (cpu == this_cpu()) {
    fn(arg);
    return;
  }
  volatile uint32_t done = 0;
  // With interrupts on, sleep until the target's VEC_WAKE instead of
  // spinning: on a host with fewer cores than vCPUs a spinning waiter
  // steals the core the target needs. The cli / check / sti;hlt sequence
  // cannot miss the wake-up (sti's shadow covers the hlt).
  uint64_t flags = save_flags();
  int sleep = (flags & 0x200) != 0;
  queue_call(cpu, fn, arg, &done, sleep ? this_cpu() : -1);
  if (sleep) {
    cli();
    while (!done) {
      sti_hlt();
      cli();
    }
    restore_flags(flags);
  } else {
    while (!done) cpu_relax();
  }
}

void on_cpu_async(int cpu, cpu_fn fn, void* arg) {
  if (cpu == this_cpu()) {
    fn(arg);
    return;
  }
  queue_call(cpu, fn, arg, 0, -1);
}

// --- ping/pong -------------------------------------------------------------

static void ping_handler(struct trap_frame* f) {
  struct percpu* pc = this_percpu();
  pc->pings++;
  uint32_t from = pc->ping_from;
  apic_eoi();
  apic_send_ipi(percpus[from].apic_id, VEC_PONG);
}

static void pong_handler(struct trap_frame* f) {
  this_percpu()->pongs++;
  apic_eoi();
}

static void spurious_handler(struct trap_frame* f) {}  // no EOI for these

int smp_ping(int target, uint64_t timeout_us) {
  struct percpu* me = this_percpu();
  struct percpu* t = &percpus[target];
  uint32_t want = READ_ONCE(me->pongs) + 1;
  t->ping_from = me->index;
  // The pong must be able to interrupt us, even inside an on_cpu() call.
  uint64_t flags = save_flags();
  sti();
  apic_send_ipi(t->apic_id, VEC_PING);
  uint64_t deadline = tsc_after_us(timeout_us);
  while (READ_ONCE(me->pongs) != want && rdtsc() < deadline) cpu_relax();
  restore_flags(flags);
  return READ_ONCE(me->pongs) == want;
}

// --- AP start-up -----------------------------------------------------------

void __attribute__((noreturn)) ap_main(uint32_t idx) {
  struct percpu* pc = &percpus[idx];
  gdt_load_cpu((int)idx);
  idt_load();
  apic_init_cpu();
  GUEST_ASSERT(apic_id() == pc->apic_id);
  events_init_cpu();
  tlb_state_init_cpu();
  probe_cpu_online(pc->apic_id);
  smp_mb();
  WRITE_ONCE(pc->online, 1);
  // Idle: everything an AP does from now on runs in IPI handlers.
  for (;;) sti_hlt();
}

static int running_virtualized(void) {
  uint32_t a, b, c, d;
  cpuid(1, 0, &a, &b, &c, &d);
  return (c >> 31) & 1;
}

uint32_t smp_boot_aps(void) {
  if (cpu_count == 1) return 1;
  memcpy((void*)TRAMPOLINE_PA, trampoline_start, (size_t)(trampoline_end - trampoline_start));
  // MP spec: INIT, 10 ms, SIPI, 200 us, SIPI. Like Linux, skip most of the
  // INIT wait under a hypervisor (it has no physical reset to settle).
  uint64_t init_us = running_virtualized() ? 10 : 10000;
  for (uint32_t i = 1; i < cpu_count; i++) {
    struct percpu* pc = &percpus[i];
    uint64_t t0 = rdtsc();
    apic_send_ipi(pc->apic_id, ICR_INIT | ICR_ASSERT);
    udelay_at_least(init_us);
    apic_send_ipi(pc->apic_id, ICR_STARTUP | (TRAMPOLINE_PA >> 12));
    udelay_at_least(200);
    if (!READ_ONCE(pc->online)) {
      apic_send_ipi(pc->apic_id, ICR_STARTUP | (TRAMPOLINE_PA >> 12));
    }
    uint64_t deadline = tsc_after_us(1000000);
    while (!READ_ONCE(pc->online) && rdtsc() < deadline) cpu_relax();
    if (READ_ONCE(pc->online)) {
      printf("smp: cpu %u (APIC id %u) online after %lu TSC cycles\n", i, pc->apic_id,
             rdtsc() - t0);
    } else {
      printf("smp: cpu %u (APIC id %u) did not come up after INIT/SIPI/SIPI\n", i, pc->apic_id);
    }
  }
  return smp_online_count();
}

void smp_init_handlers(void) {
  idt_set_handler(VEC_CALL, call_handler, 0);
  idt_set_handler(VEC_PING, ping_handler, 0);
  idt_set_handler(VEC_PONG, pong_handler, 0);
  idt_set_handler(VEC_WAKE, wake_handler, 0);
  idt_set_handler(VEC_SPURIOUS, spurious_handler, 0);
}
