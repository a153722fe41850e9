// scenario=nested-gather (seed 003): two threads of one mm unmap the same
// range at once. T1 munmaps a whole 2 MiB slot (PTEs cleared, the page
// table unlinked, its flush still to come) while T2 madvise(DONTNEED)s a
// part of it: T2 finds the PTEs already clear and would skip the flush,
// returning while T1's stale entries live on. tlb_finish_mmu's nested
// check makes T2 flush anyway. Correct (Linux today): the whole mm, with
// freed_tables. Bug (the seed's __tlb_reset_range): only T2's own range,
// last level only, no freed_tables.
#include "console.h"
#include "probe.h"
#include "scenarios.h"
#include "threads.h"
#include "user.h"
#include "user_abi.h"
#include "vm.h"

#define VAL_OLD 0x7777000077770000ull

static struct world w;
static uint64_t slot_va, npages, r2_va, r2_pages;
static uint32_t t2;
static volatile uint32_t t2_ready, t1_cleared, t2_done, others_idle;
static uint64_t first[MAX_CPUS], after[MAX_CPUS];

// T1, inside munmap after clearing: let T2 run its whole madvise.
static void t1_hook(enum vm_hook_point point, struct mm* mm) {
  if (point != VM_HOOK_MUNMAP_CLEARED || this_cpu() != 0) return;
  flag_add(&t1_cleared);
  flag_wait(&t2_done, 1);
}

static void nested_thread(void* unused) {
  uint32_t c = (uint32_t)this_cpu();
  thread_switch(&w.mm);
  first[c] = uread(r2_va);
  if (c == t2) {
    flag_add(&t2_ready);
    flag_wait(&t1_cleared, 1);
    usys(SYS_MADVISE, r2_va, r2_pages, 0);
    after[c] = uread(r2_va);  // must fault: unmapped, and flushed
    flag_add(&t2_done);
  } else if (c == 0) {
    wait_for_bystanders(&others_idle);
    flag_wait(&t2_ready, 1);
    usys(SYS_MUNMAP, slot_va, 512, 0);
    after[c] = uread(r2_va);
  } else {
    bystander_go_idle(&others_idle);
    return;
  }
  thread_exit_to_idle();
}

void scenario_nested_gather(void) {
  if (online_cpus() < 2) {
    report("nested_gather", 0, "needs 2 CPUs");
    return;
  }
  tlb_bugs.nested_reset_range = scenario_bug;
  world_init(&w, 0);
  t2 = rand_other_cpu();
  slot_va = USER_MMAP_BASE + rand_below(USER_MMAP_SLOTS) * (2ull << 20);
  npages = 4 + rand_below(13);
  r2_pages = 1 + rand_below(npages - 1);
  r2_va = slot_va + rand_below(npages - r2_pages + 1) * PAGE_SIZE;
  vm_mmap(&w.mm, slot_va, npages, VAL_OLD);
  printf(
      "nested-gather: T1 cpu 0 munmaps 0x%lx (2 MiB, %lu pages mapped), T2 cpu %u madvises "
      "0x%lx + %lu pages, %s variant\n",
      slot_va, npages, t2, r2_va, r2_pages, scenario_bug ? "bug" : "correct");
  vm_hook = t1_hook;
  run_on_all_cpus(nested_thread, 0);
  vm_hook = 0;

  report("nested_gather_flush", vm_checks.nested_gathers >= 1 && vm_checks.nested_short == 0,
         "%u nested gather(s), %u flushed less than the whole mm with tables%s%s",
         vm_checks.nested_gathers, vm_checks.nested_short, vm_checks.first[0] ? ": " : "",
         vm_checks.first);
  uint64_t want = VAL_OLD + (r2_va - slot_va) / PAGE_SIZE;
  int ok = first[0] == want && first[t2] == want && after[t2] == USER_FAULTED &&
           after[0] == USER_FAULTED;
  if (after[t2] != USER_FAULTED) stale_read_event(&w.mm, r2_va, USER_FAULTED, after[t2]);
  report("nested_gather_read", ok, "T2 read 0x%lx, then after madvise %s; T1 after munmap %s",
         first[t2], after[t2] == USER_FAULTED ? "faulted" : "read a stale page",
         after[0] == USER_FAULTED ? "faulted" : "read a stale page");
}
