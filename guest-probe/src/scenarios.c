#include "scenarios.h"

#include "console.h"
#include "lib.h"

static const struct scenario scenarios[] = {
    {"selftest", "CPUs, IPIs, CR3 switches, INVLPG, user mode (default)", scenario_selftest, 0},
    {"invpcid", "INVPCID types 0-3 on every CPU, each seen from CPL3", scenario_invpcid, 0},
    {"shootdown", "CPL3 tasks of one mm on every CPU; TLB shootdowns, lazy TLB", scenario_shootdown,
     0},
    {"lazy-free", "seed 000: page tables freed under a lazy CPU's CR3", scenario_lazy_free, 1},
    {"async-flush", "seed 001: a page freed before the remote flush ran", scenario_async_flush, 1},
    {"lam-lazy", "seed 002: LAM enabled while a CPU is lazy on the mm", scenario_lam_lazy, 1},
    {"nested-gather", "seed 003: munmap and madvise race; the nested flush", scenario_nested_gather,
     1},
    {"unlazy-sync", "seed 004: unlazy into a membarrier SYNC_CORE mm", scenario_unlazy_sync, 1},
    {"munmap-storm", "mmap/munmap rounds on every CPU", scenario_munmap_storm, 0},
    {"mprotect-storm", "mprotect rounds; writes fault iff read-only", scenario_mprotect_storm, 0},
    {"cs-pingpong", "switches between two mms and lazy kernel threads", scenario_cs_pingpong, 0},
    {"many-mms", "six mms, each CPU remapping its page in each", scenario_many_mms, 0},
    {"crash-pf", "touch an unmapped address: #PF reported, exit 3", scenario_crash_pf, 0},
    {"assert", "a failing GUEST_ASSERT: ASSERT reported, exit 2", scenario_assert, 0},
    {"hang", "cli and spin forever on every CPU", scenario_hang, 0},
    {"triple-fault", "empty IDT, then fault: shutdown", scenario_triple_fault, 0},
    {"bad-port", "out to unassigned port 0x1234", scenario_bad_port, 0},
    {"exit-code", "exit with code 7", scenario_exit_code, 0},
    {"hostile-ring", "corrupt own event ring header (nslots, tail, head)", scenario_hostile_ring,
     0},
};

const struct scenario* scenario_find(const char* name) {
  for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
    if (strcmp(scenarios[i].name, name) == 0) return &scenarios[i];
  }
  return 0;
}

void scenario_print_all(void) {
  for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
    printf("  %-14s %s%s\n", scenarios[i].name, scenarios[i].what,
           scenarios[i].has_bug_variant ? " (variant=bug too)" : "");
  }
}
