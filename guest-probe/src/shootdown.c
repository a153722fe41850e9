// scenario=shootdown: CPL3 tasks of one mm on every CPU; the task on the
// BSP repoints PTEs of that mm and calls flush_tlb_mm_range (tlbflush.c)
// for them, and every task must then read the new pages. Then lazy TLB
// mode: a flush without freed tables skips the lazy CPUs, which catch up
// when they switch back; one with freed tables IPIs them into init_mm.
#include "apic.h"
#include "console.h"
#include "cpu.h"
#include "events.h"
#include "mm.h"
#include "probe.h"
#include "scenarios.h"
#include "smp.h"
#include "tlb.h"
#include "tlbflush.h"
#include "user.h"

#define VAL_OLD 0x5555000055550005ul
#define VAL_NEW 0x6666000066660006ul
#define INITIATOR 0  // the BSP

static struct aspace as_sd;
static struct mm mm_sd;

// One flush round: every CPU runs uprog_sum3 over the round's pages; the
// BSP's task repoints them (yield 1) and flushes them (yield 2).
struct round {
  const char* name;
  uint64_t va;
  uint32_t npages;
  uint64_t *old_page, *new_page;
  volatile uint32_t ready[3];  // tasks other than the BSP's at yield n
  volatile uint32_t phase;     // the BSP's task has finished yield n
  volatile uint32_t done;      // tasks other than the BSP's that exited
  uint32_t others;
  uint64_t targets;  // CPUs that ran flush_tlb_func
  uint64_t first[MAX_CPUS], before[MAX_CPUS], after[MAX_CPUS];
  uint64_t invlpgs0[MAX_CPUS], cr3s0[MAX_CPUS];
};

static int online(uint32_t c) { return READ_ONCE(percpus[c].online); }

static void wake(uint32_t c) { apic_send_ipi(percpus[c].apic_id, VEC_WAKE); }

static void wake_others(void) {
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (c != INITIATOR && online(c)) wake(c);
  }
}

// Sleeps until *v >= want; whoever changes *v sends VEC_WAKE.
static void wait_for(volatile uint32_t* v, uint32_t want) {
  uint64_t flags = irq_save();
  while (READ_ONCE(*v) < want) {
    sti_hlt();
    cli();
  }
  restore_flags(flags);
}

static void map_pages(struct round* r, uint64_t* page) {
  for (uint32_t i = 0; i < r->npages; i++) {
    aspace_map(&as_sd, r->va + (uint64_t)i * PAGE_SIZE, (uintptr_t)page, PTE_U | PTE_W);
  }
}

static uint64_t round_yield(struct user_run* run, uint32_t n, uint64_t value) {
  struct round* r = run->ctx;
  uint32_t c = (uint32_t)this_cpu();
  if (n == 1) {
    r->first[c] = value;
  } else {
    r->before[c] = value;
  }
  if (c != INITIATOR) {
    __atomic_add_fetch(&r->ready[n], 1, __ATOMIC_SEQ_CST);
    wake(INITIATOR);
    wait_for(&r->phase, n);
    return 0;
  }
  wait_for(&r->ready[n], r->others);
  if (n == 1) {
    map_pages(r, r->new_page);  // plain stores: no flush yet
  } else {
    r->targets =
        flush_tlb_mm_range(&mm_sd, r->va, r->va + (uint64_t)r->npages * PAGE_SIZE, 12, 0, 0);
  }
  __atomic_store_n(&r->phase, n, __ATOMIC_SEQ_CST);
  wake_others();
  return 0;
}

// A thread of mm_sd: switch to it, run, go lazy (like the idle task).
static void round_task(void* arg) {
  struct round* r = arg;
  uint32_t c = (uint32_t)this_cpu();
  uint64_t flags = irq_save();
  switch_mm_irqs_off(0, &mm_sd);
  restore_flags(flags);
  r->invlpgs0[c] = percpus[c].tlb.invlpgs;
  r->cr3s0[c] = percpus[c].tlb.cr3_writes;
  struct user_run run = {&as_sd, round_yield, r, 0};
  r->after[c] = user_run_loaded(&run, uprog_sum3, r->va | r->npages);
  enter_lazy_tlb(&mm_sd);
  if (c != INITIATOR) {
    __atomic_add_fetch(&r->done, 1, __ATOMIC_SEQ_CST);
    wake(INITIATOR);
  }
}

// full: the flush must be a CR3 reload on every CPU (above the ceiling),
// otherwise one INVLPG per page.
static void run_round(struct round* r, int full) {
  r->old_page = page_alloc();
  r->new_page = page_alloc();
  *r->old_page = VAL_OLD;
  *r->new_page = VAL_NEW;
  map_pages(r, r->old_page);  // never-mapped VAs: nothing cached
  r->others = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (c == INITIATOR || !online(c)) continue;
    r->others++;
    on_cpu_async((int)c, round_task, r);
  }
  round_task(r);
  wait_for(&r->done, r->others);

  uint64_t want_old = VAL_OLD * r->npages, want_new = VAL_NEW * r->npages;
  uint32_t cpus = 0, good = 0, stale = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!online(c)) continue;
    uint64_t invlpgs = percpus[c].tlb.invlpgs - r->invlpgs0[c];
    uint64_t cr3s = percpus[c].tlb.cr3_writes - r->cr3s0[c];
    int how = full ? (invlpgs == 0 && cr3s == 1) : (invlpgs == r->npages && cr3s == 0);
    int ok = r->first[c] == want_old && r->after[c] == want_new && how && (r->targets >> c & 1);
    if (!ok) {
      printf(
          "%s: cpu %u read sums 0x%lx, 0x%lx, 0x%lx (want 0x%lx then 0x%lx); %lu INVLPG, %lu "
          "CR3 writes in the round\n",
          r->name, c, r->first[c], r->before[c], r->after[c], want_old, want_new, invlpgs, cr3s);
      if (r->after[c] != want_new) {
        event_emit(TLBSCOPE_EV_STALE_READ, 0, mm_sd.ctx_id, r->va, want_new, r->after[c]);
      }
    }
    cpus++;
    good += ok;
    stale += r->before[c] != want_new;
  }
  report(r->name, good == cpus,
         "%u page(s), %s, gen %lu, cpus 0x%lx: %u/%u CPUs read new after flush; stale before on %u",
         r->npages, full ? "CR3 reload" : "INVLPG", READ_ONCE(mm_sd.tlb_gen), r->targets, good,
         cpus, stale);
}

// --- lazy TLB ----------------------------------------------------------------

struct lazy_read {
  uint64_t va;
  uint64_t value[MAX_CPUS];
};

// A short task of mm_sd: read va, go lazy again.
static void lazy_read_task(void* arg) {
  struct lazy_read* lr = arg;
  switch_mm_irqs_off(0, &mm_sd);
  struct user_run run = {&as_sd, 0, 0, 0};
  lr->value[this_cpu()] = user_run_loaded(&run, uprog_read, lr->va);
  enter_lazy_tlb(&mm_sd);
}

static void lazy_read_all(struct lazy_read* lr) {
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (c != INITIATOR && online(c)) on_cpu((int)c, lazy_read_task, lr);
  }
}

// freed_tables 0: the lazy CPUs get no IPI and catch up with a CR3 reload
// when they switch back to mm_sd. 1: they are IPI'd and leave mm_sd.
static void test_lazy(const char* name, uint64_t va, int freed_tables) {
  uint64_t* old_page = page_alloc();
  uint64_t* new_page = page_alloc();
  *old_page = VAL_OLD;
  *new_page = VAL_NEW;
  aspace_map(&as_sd, va, (uintptr_t)old_page, PTE_U | PTE_W);
  struct lazy_read first = {va, {0}}, again = {va, {0}};
  lazy_read_all(&first);  // every other CPU caches va, then is lazy

  // The BSP as a thread of mm_sd (not lazy) repoints and flushes.
  uint64_t flags = irq_save();
  switch_mm_irqs_off(0, &mm_sd);
  restore_flags(flags);
  uint64_t funcs0[MAX_CPUS];
  for (uint32_t c = 0; c < cpu_count; c++) funcs0[c] = cpu_tlbstate[c].flush_funcs;
  aspace_map(&as_sd, va, (uintptr_t)new_page, PTE_U | PTE_W);
  uint64_t targets = flush_tlb_mm_range(&mm_sd, va, va + PAGE_SIZE, 12, freed_tables, 0);
  uint64_t gen = READ_ONCE(mm_sd.tlb_gen);

  uint32_t cpus = 0, good = 0;
  uint32_t behind[MAX_CPUS];
  for (uint32_t c = 0; c < cpu_count; c++) {
    behind[c] = tlb_local_gen(&cpu_tlbstate[c]) < gen;
  }
  int in_init[MAX_CPUS];
  for (uint32_t c = 0; c < cpu_count; c++) in_init[c] = cpu_tlbstate[c].loaded_mm == &init_mm;
  lazy_read_all(&again);  // switch back: must see the new page
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (c == INITIATOR || !online(c)) continue;
    int ipid = (targets >> c & 1) && cpu_tlbstate[c].flush_funcs == funcs0[c] + 1;
    int skipped = !(targets >> c & 1) && cpu_tlbstate[c].flush_funcs == funcs0[c];
    int ok = first.value[c] == VAL_OLD && again.value[c] == VAL_NEW &&
             (freed_tables ? ipid && in_init[c] : skipped && behind[c]) &&
             tlb_local_gen(&cpu_tlbstate[c]) == gen;
    if (!ok) {
      printf(
          "%s: cpu %u read 0x%lx then 0x%lx; targets 0x%lx, flush_funcs %lu -> %lu, "
          "behind %u, in init_mm %d\n",
          name, c, first.value[c], again.value[c], targets, funcs0[c], cpu_tlbstate[c].flush_funcs,
          behind[c], in_init[c]);
    }
    cpus++;
    good += ok;
  }
  if (freed_tables) {
    report(name, good == cpus,
           "freed_tables=1, cpus 0x%lx: %u/%u lazy CPUs IPI'd into init_mm, new page after switch "
           "back",
           targets, good, cpus);
  } else {
    report(name, good == cpus,
           "freed_tables=0, cpus 0x%lx: %u/%u lazy CPUs no IPI, behind gen %lu, new page after "
           "switch back",
           targets, good, cpus, gen);
  }
}

static void tlb_init_on_cpu(void* unused) { tlb_state_init_cpu(); }

void scenario_shootdown(void) {
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (online(c)) on_cpu((int)c, tlb_init_on_cpu, 0);
  }
  aspace_init(&as_sd);
  mm_init(&mm_sd, &as_sd);

  static struct round single = {
      .name = "shootdown_single", .va = USER_BASE + 0x102000, .npages = 1};
  static struct round range = {.name = "shootdown_range", .va = USER_BASE + 0x110000, .npages = 8};
  static struct round ceiling = {.name = "shootdown_ceiling",
                                 .va = USER_BASE + 0x120000,
                                 .npages = TLB_SINGLE_PAGE_FLUSH_CEILING + 7};
  run_round(&single, 0);
  run_round(&range, 0);
  run_round(&ceiling, 1);
  test_lazy("shootdown_lazy_skipped", USER_BASE + 0x150000, 0);
  test_lazy("shootdown_lazy_freed", USER_BASE + 0x151000, 1);

  uint64_t flags = irq_save();
  switch_mm_irqs_off(0, &init_mm);
  restore_flags(flags);
}
