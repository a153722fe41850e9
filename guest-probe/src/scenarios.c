#include "scenarios.h"

#include "console.h"
#include "lib.h"

static const struct scenario scenarios[] = {
    {"selftest", "CPUs, IPIs, CR3 switches, INVLPG, user mode (default)", scenario_selftest},
    {"invpcid", "INVPCID types 0-3 on every CPU, each seen from CPL3", scenario_invpcid},
    {"shootdown", "CPL3 tasks of one mm on every CPU; TLB shootdowns, lazy TLB",
     scenario_shootdown},
    {"crash-pf", "touch an unmapped address: #PF reported, exit 3", scenario_crash_pf},
    {"assert", "a failing GUEST_ASSERT: ASSERT reported, exit 2", scenario_assert},
    {"hang", "cli and spin forever on every CPU", scenario_hang},
    {"triple-fault", "empty IDT, then fault: shutdown", scenario_triple_fault},
    {"bad-port", "out to unassigned port 0x1234", scenario_bad_port},
    {"exit-code", "exit with code 7", scenario_exit_code},
};

const struct scenario* scenario_find(const char* name) {
  for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
    if (strcmp(scenarios[i].name, name) == 0) return &scenarios[i];
  }
  return 0;
}

void scenario_print_all(void) {
  for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
    printf("  %-14s %s\n", scenarios[i].name, scenarios[i].what);
  }
}
