// scenario=lazy-free (seed 000): a lazy CPU keeps an mm's page tables
// loaded while the mm frees them. Correct (non-PCID Linux): the lazy CPU
// stays in mm_cpumask, so the freed_tables flush IPIs it and it leaves for
// init_mm before the table is freed. Bug: enter_lazy_tlb drops the CPU
// from the cpumask without switching away; the flush skips it and the
// page table is freed under its CR3 (its paging-structure caches may
// still point into it).
#include "console.h"
#include "probe.h"
#include "scenarios.h"
#include "threads.h"
#include "user_abi.h"
#include "vm.h"

#define VAL_OLD 0x1111000011110000ull
#define VAL_NEW 0x2222000022220000ull

static struct world w;
static uint64_t va, npages;
static uint32_t victim;
static volatile uint32_t victim_lazy, others_idle, remapped;
static uint64_t first[MAX_CPUS], again[MAX_CPUS];

static void lazy_free_thread(void* unused) {
  uint32_t c = (uint32_t)this_cpu();
  thread_switch(&w.mm);
  first[c] = uread(va);
  if (c == victim) {
    kthread_begin();  // a kernel thread borrows the mm
    flag_add(&victim_lazy);
    flag_wait(&remapped, 1);
    thread_switch(&w.mm);  // back to the user thread
    again[c] = uread(va);
  } else if (c == 0) {
    // The whole 2 MiB slot: munmap frees its page table too.
    again[c] = remap_when_ready(&victim_lazy, &others_idle, va, 512, npages, VAL_NEW, &remapped);
  } else {
    bystander_go_idle(&others_idle);
    return;
  }
  thread_exit_to_idle();
}

void scenario_lazy_free(void) {
  if (online_cpus() < 2) {
    report("lazy_free", 0, "needs 2 CPUs");
    return;
  }
  tlb_bugs.lazy_drop_cpumask = scenario_bug;
  world_init(&w, 0);
  victim = rand_other_cpu();
  va = USER_MMAP_BASE + rand_below(USER_MMAP_SLOTS) * (2ull << 20);
  npages = 1 + rand_below(8);
  vm_mmap(&w.mm, va, npages, VAL_OLD);
  printf("lazy-free: victim cpu %u, %lu page(s) at 0x%lx, %s variant\n", victim, npages, va,
         scenario_bug ? "bug" : "correct");
  run_on_all_cpus(lazy_free_thread, 0);

  report("lazy_free_table_walk", vm_checks.unsafe_table_frees == 0,
         "%u page table(s) freed, %u while a CPU could still walk them%s%s", vm_checks.table_frees,
         vm_checks.unsafe_table_frees, vm_checks.first[0] ? ": " : "", vm_checks.first);
  report_reread("lazy_free_reread", &w.mm, va, first, again, victim, VAL_OLD, VAL_NEW,
                "the remapped one");
}
