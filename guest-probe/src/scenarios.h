// The scenario table: `scenario=NAME` on the kernel command line picks one.
#pragma once

struct scenario {
  const char* name;
  const char* what;
  // Runs on the BSP with all CPUs online. Returning means "done": main
  // has every CPU send its TLB_COUNTS, sends DONE and exits 0 if every
  // report() passed, 1 otherwise.
  void (*run)(void);
  // Has a `variant=bug` (the seed scenarios); the others refuse it.
  int has_bug_variant;
};

const struct scenario* scenario_find(const char* name);
void scenario_print_all(void);

// selftest.c
void scenario_selftest(void);
// failures.c
void scenario_crash_pf(void);
void scenario_assert(void);
void scenario_hang(void);
void scenario_triple_fault(void);
void scenario_bad_port(void);
void scenario_exit_code(void);
void scenario_hostile_ring(void);
// invpcid.c
void scenario_invpcid(void);
// shootdown.c
void scenario_shootdown(void);
// The mm scenarios (docs: guest-probe/README.md).
void scenario_lazy_free(void);
void scenario_async_flush(void);
void scenario_lam_lazy(void);
void scenario_nested_gather(void);
void scenario_unlazy_sync(void);
void scenario_munmap_storm(void);
void scenario_mprotect_storm(void);
void scenario_cs_pingpong(void);
void scenario_many_mms(void);
