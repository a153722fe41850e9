// scenario=unlazy-sync (seed 004): a thread's mm is registered for
// membarrier SYNC_CORE, so switching into it must serialize the core
// before user mode. A CR3 write does; a lazy CPU that switches back to the
// same mm with nothing to flush writes none, and must sync_core().
// Round 1: the mm is flushed while the victim is lazy (its IPI skipped),
// so its unlazy flushes (CR3 write). Round 2: nothing happens while it is
// lazy, so its unlazy writes no CR3. Correct: sync_core() there. Bug: it
// skips it because "a flush IPI was skipped, so the unlazy flushes" --
// stale knowledge from round 1.
#include "console.h"
#include "probe.h"
#include "scenarios.h"
#include "threads.h"
#include "user_abi.h"
#include "vm.h"

#define VAL_DATA 0x9999000099990000ull

static struct world w;
static uint64_t va;
static uint32_t victim;
static volatile uint32_t registered, lazy1, flushed1, lazy2, go2, others_idle;
static uint64_t reads[MAX_CPUS][3];

static void unlazy_thread(void* unused) {
  uint32_t c = (uint32_t)this_cpu();
  thread_switch(&w.mm);
  if (c == victim) {
    flag_wait(&registered, 1);
    reads[c][0] = uread(va);
    kthread_begin();
    flag_add(&lazy1);
    flag_wait(&flushed1, 1);
    thread_switch(&w.mm);  // behind: CR3 write
    reads[c][1] = uread(va);
    kthread_begin();
    flag_add(&lazy2);
    flag_wait(&go2, 1);
    thread_switch(&w.mm);  // up to date: no CR3 write
    reads[c][2] = uread(va);
  } else if (c == 0) {
    wait_for_bystanders(&others_idle);
    usys(SYS_MEMBARRIER, 0, 0, 0);
    flag_add(&registered);
    reads[c][0] = uread(va);
    flag_wait(&lazy1, 1);
    usys(SYS_MPROTECT, va, 1, 1);  // no change: nothing flushed
    usys(SYS_MPROTECT, va, 1, 0);  // read-only: a flush that skips the lazy CPU
    flag_add(&flushed1);
    flag_wait(&lazy2, 1);
    flag_add(&go2);
    reads[c][1] = reads[c][2] = uread(va);
  } else {
    bystander_go_idle(&others_idle);
    return;
  }
  thread_exit_to_idle();
}

void scenario_unlazy_sync(void) {
  if (online_cpus() < 2) {
    report("unlazy_sync", 0, "needs 2 CPUs");
    return;
  }
  tlb_bugs.unlazy_skip_sync = scenario_bug;
  world_init(&w, 0);
  victim = rand_other_cpu();
  va = USER_MMAP_BASE + rand_below(USER_MMAP_SLOTS * 512) * PAGE_SIZE;
  vm_mmap(&w.mm, va, 1, VAL_DATA);
  printf("unlazy-sync: victim cpu %u, page 0x%lx, %s variant\n", victim, va,
         scenario_bug ? "bug" : "correct");
  run_on_all_cpus(unlazy_thread, 0);

  uint32_t unserialized = 0;
  for (uint32_t c = 0; c < cpu_count; c++) unserialized += cpu_tlbstate[c].unserialized_entries;
  report("unlazy_sync_serialized", unserialized == 0,
         "%u return(s) to user mode in a SYNC_CORE mm after an unlazy without serializing "
         "(victim cpu %u)",
         unserialized, victim);
  int ok = 1;
  for (int i = 0; i < 3; i++) ok &= reads[victim][i] == VAL_DATA && reads[0][i] == VAL_DATA;
  report("unlazy_sync_reads", ok, "victim read 0x%lx 0x%lx 0x%lx", reads[victim][0],
         reads[victim][1], reads[victim][2]);
}
