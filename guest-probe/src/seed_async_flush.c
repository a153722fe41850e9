// scenario=async-flush (seed 001): flush_tlb_mm_range must not return
// before every target ran flush_tlb_func, or the caller frees (or reuses,
// or reads the dirty bit of) a page another CPU can still reach through
// its TLB. The remote CPU holds interrupts off (a long irqs-off section)
// until the initiator either waits for it (correct) or has already freed
// the page (bug: the IPI does not wait for completion), so the order is
// the same on every run.
#include "console.h"
#include "cpu.h"
#include "probe.h"
#include "scenarios.h"
#include "threads.h"
#include "tlbflush.h"
#include "user.h"
#include "user_abi.h"
#include "vm.h"

#define VAL_OLD 0x3333000033330000ull
#define VAL_NEW 0x4444000044440000ull

static struct world w;
static uint64_t va;
static uint32_t remote;
static volatile uint32_t held, others_idle, remapped;
static uint32_t waiting0, frees0;
static uint64_t first[MAX_CPUS], again[MAX_CPUS];

// SYS_SCENARIO on the remote CPU: interrupts off until the initiator
// waits for its flush, or has freed the page without waiting.
static uint64_t hold_irqs_off(struct mm* mm, uint64_t arg) {
  uint64_t flags = irq_save();
  waiting0 = READ_ONCE(flush_waiting);
  frees0 = READ_ONCE(vm_checks.page_frees);
  flag_add(&held);
  while (READ_ONCE(flush_waiting) == waiting0 && READ_ONCE(vm_checks.page_frees) == frees0) {
    cpu_relax();
  }
  uint64_t funcs = READ_ONCE(cpu_tlbstate[this_cpu()].flush_funcs);
  restore_flags(flags);  // the flush IPI comes in now
  // Do not return to user mode before it ran (it may take a while to be
  // delivered): the scenario's symptom is the early free, every time.
  while (READ_ONCE(cpu_tlbstate[this_cpu()].flush_funcs) == funcs) cpu_relax();
  return 0;
}

static void async_thread(void* unused) {
  uint32_t c = (uint32_t)this_cpu();
  thread_switch(&w.mm);
  first[c] = uread(va);
  if (c == remote) {
    usys(SYS_SCENARIO, 0, 0, 0);
    flag_wait(&remapped, 1);
    again[c] = uread(va);
  } else if (c == 0) {
    again[c] = remap_when_ready(&held, &others_idle, va, 1, 1, VAL_NEW, &remapped);
  } else {
    bystander_go_idle(&others_idle);
    return;
  }
  thread_exit_to_idle();
}

void scenario_async_flush(void) {
  if (online_cpus() < 2) {
    report("async_flush", 0, "needs 2 CPUs");
    return;
  }
  tlb_bugs.async_flush = scenario_bug;
  user_scenario_hook = hold_irqs_off;
  world_init(&w, 0);
  remote = rand_other_cpu();
  va = USER_MMAP_BASE + rand_below(USER_MMAP_SLOTS * 512) * PAGE_SIZE;
  vm_mmap(&w.mm, va, 1, VAL_OLD);
  printf("async-flush: remote cpu %u, page 0x%lx, %s variant\n", remote, va,
         scenario_bug ? "bug" : "correct");
  run_on_all_cpus(async_thread, 0);
  user_scenario_hook = 0;

  report("async_flush_page_free", vm_checks.unsafe_page_frees == 0,
         "%u page(s) freed, %u before a CPU running the mm flushed%s%s", vm_checks.page_frees,
         vm_checks.unsafe_page_frees, vm_checks.first[0] ? ": " : "", vm_checks.first);
  report_reread("async_flush_reread", &w.mm, va, first, again, remote, VAL_OLD, VAL_NEW,
                "the new one");
}
