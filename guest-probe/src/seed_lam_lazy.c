// scenario=lam-lazy (seed 002): a user thread enables LAM while another
// CPU runs a kernel thread lazily on the same mm. When that CPU switches
// back to the user thread, tlb_gen has not changed, so nothing needs a
// flush -- but its LAM is stale. Correct (the seed's patch): the switch
// compares the CPU's LAM with the mm's and reloads CR3. Bug: it returns
// early and the thread runs in user mode with the old LAM.
#include "console.h"
#include "probe.h"
#include "scenarios.h"
#include "threads.h"
#include "user_abi.h"

#define VAL_DATA 0x5555000055550000ull

static struct world w;
static uint32_t victim;
static volatile uint32_t victim_lazy, others_idle, lam_on;
static uint64_t read_back[MAX_CPUS];

static void lam_thread(void* unused) {
  uint32_t c = (uint32_t)this_cpu();
  thread_switch(&w.mm);
  read_back[c] = uread(USER_DATA_VA);
  if (c == victim) {
    kthread_begin();
    flag_add(&victim_lazy);
    flag_wait(&lam_on, 1);
    thread_switch(&w.mm);  // same mm, same tlb_gen
    read_back[c] = uread(USER_DATA_VA);
  } else if (c == 0) {
    flag_wait(&victim_lazy, 1);
    wait_for_bystanders(&others_idle);
    usys(SYS_LAM_ENABLE, 0, 0, 0);
    flag_add(&lam_on);
    read_back[c] = uread(USER_DATA_VA);
  } else {
    bystander_go_idle(&others_idle);
    return;
  }
  thread_exit_to_idle();
}

void scenario_lam_lazy(void) {
  if (online_cpus() < 2) {
    report("lam_lazy", 0, "needs 2 CPUs");
    return;
  }
  tlb_bugs.lam_skip_on_unlazy = scenario_bug;
  world_init(&w, VAL_DATA);
  victim = rand_other_cpu();
  printf("lam-lazy: victim cpu %u, %s variant, CPU LAM %s (without it LAM is software state)\n",
         victim, scenario_bug ? "bug" : "correct", cpu_has_lam() ? "present" : "absent");
  run_on_all_cpus(lam_thread, 0);

  uint32_t mismatches = 0, good = 0, n = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!percpus[c].online) continue;
    n++;
    mismatches += cpu_tlbstate[c].lam_mismatch_entries;
    good += read_back[c] == VAL_DATA;
  }
  report("lam_lazy_switch", mismatches == 0,
         "mm LAM 0x%lx; %u return(s) to user mode with a CPU LAM other than the mm's "
         "(victim cpu %u)",
         w.mm.lam_cr3_mask, mismatches, victim);
  report("lam_lazy_reads", good == n, "%u/%u CPUs read their data page", good, n);
}
