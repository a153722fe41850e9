// BSP C entry: bring the machine up, run the chosen scenario, report.
#include "apic.h"
#include "boot_info.h"
#include "console.h"
#include "cpu.h"
#include "events.h"
#include "gdt.h"
#include "idt.h"
#include "lib.h"
#include "probe.h"
#include "scenarios.h"
#include "smp.h"
#include "threads.h"
#include "tlb.h"
#include "tlbflush.h"
#include "user.h"

static void mask_legacy_pic(void) {
  outb(0xff, 0x21);
  outb(0xff, 0xa1);
}

void __attribute__((noreturn)) kmain(void) {
  // First: the command line may sit in memory we reuse later.
  boot_info_init();
  gdt_load_cpu(0);
  idt_init();
  smp_init_handlers();
  user_init();
  idt_load();
  mask_legacy_pic();
  apic_detect();
  apic_init_cpu();
  percpus[0].apic_id = apic_id();
  events_init_cpu();
  tlb_state_init_cpu();
  // The BSP is the one "thread" context; it takes IPIs while it waits
  // (e.g. as the pong side of ipi_pingpong). Loaders enter with IF = 0.
  sti();

  char buf[48];
  const char* name = boot_param("scenario", "selftest", buf, sizeof(buf));
  printf("guest-probe: booted via %s, %s, cmdline \"%s\"\n", boot_protocol_name(),
         apic_is_x2apic() ? "x2APIC" : "xAPIC", boot_cmdline());
  const struct scenario* sc = scenario_find(name);
  if (!sc) {
    printf("guest-probe: unknown scenario \"%s\"; known scenarios:\n", name);
    scenario_print_all();
    probe_log("unknown scenario");
    guest_exit(GUEST_EXIT_FAIL);
  }

  char vbuf[16], sbuf[24];
  const char* variant = boot_param("variant", "correct", vbuf, sizeof(vbuf));
  if (strcmp(variant, "bug") == 0 && sc->has_bug_variant) {
    scenario_bug = 1;
  } else if (strcmp(variant, "correct") != 0) {
    printf("guest-probe: scenario %s has no variant \"%s\" (%s)\n", sc->name, variant,
           sc->has_bug_variant ? "correct or bug" : "only correct");
    probe_log("unknown variant");
    guest_exit(GUEST_EXIT_FAIL);
  }
  const char* seed = boot_param("seed", "1", sbuf, sizeof(sbuf));
  if (!parse_u64(seed, &scenario_seed)) {
    printf("guest-probe: seed \"%s\" is not a number\n", seed);
    probe_log("bad seed");
    guest_exit(GUEST_EXIT_FAIL);
  }
  if (sc->has_bug_variant || strcmp(variant, "correct") != 0) {
    printf("guest-probe: variant %s, seed %lu\n", variant, scenario_seed);
  }

  printf("guest-probe: %s\n",
         tlb_pcid_enabled ? "PCID on (CR4.PCIDE): 6 ASID slots per CPU"
                          : "no PCID: the non-PCID paths (ASID 0, every CR3 write flushes)");
  smp_discover();
  probe_hello(cpu_count, sc->name, boot_protocol());
  printf("guest-probe: %u CPU(s) in the MP table, scenario %s\n", cpu_count, sc->name);
  uint64_t t0 = rdtsc();
  smp_boot_aps();
  uint64_t t1 = rdtsc();
  printf("guest-probe: %u of %u CPUs online (%lu TSC cycles)\n", smp_online_count(), cpu_count,
         t1 - t0);

  sc->run();

  uint64_t t2 = rdtsc();
  tlb_report_counts();
  probe_done();
  printf("DONE %s: %u passed, %u failed (%lu TSC cycles)\n", sc->name, report_passed(),
         report_failed(), t2 - t1);
  guest_exit(report_failed() ? GUEST_EXIT_FAIL : GUEST_EXIT_PASS);
}
