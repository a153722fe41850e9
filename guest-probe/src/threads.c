#include "threads.h"

#include "apic.h"
#include "console.h"
#include "cpu.h"
#include "events.h"
#include "probe.h"
#include "user.h"
#include "user_abi.h"

int scenario_bug;
uint64_t scenario_seed = 1;
static uint64_t rng_state;

uint64_t rand_next(void) {
  // splitmix64: a fixed sequence per seed.
  if (!rng_state) rng_state = scenario_seed * 0x9e3779b97f4a7c15ull + 1;
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t rand_below(uint64_t n) { return n ? rand_next() % n : 0; }

uint32_t online_cpus(void) { return smp_online_count(); }

uint32_t rand_other_cpu(void) {
  uint32_t n = online_cpus();
  return n < 2 ? 1 : 1 + (uint32_t)rand_below(n - 1);
}

void world_init(struct world* w, uint64_t data_value) {
  aspace_init(&w->as);
  mm_init(&w->mm, &w->as);
  uint64_t* data = (uint64_t*)(uintptr_t)(*aspace_pte(&w->as, USER_DATA_VA) & PTE_ADDR_MASK);
  *data = data_value;
}

void thread_switch(struct mm* mm) {
  uint64_t flags = irq_save();
  switch_mm_irqs_off(0, mm);
  restore_flags(flags);
}

void kthread_begin(void) { enter_lazy_tlb(cpu_tlbstate[this_cpu()].loaded_mm); }

void thread_exit_to_idle(void) { leave_mm(); }

uint64_t uread(uint64_t va) {
  struct user_run run = {0, 0, 0, 0};
  return user_run_loaded(&run, uprog_read, va);
}

uint64_t uwrite(uint64_t va, uint64_t value) {
  struct user_run run = {0, 0, 0, 0};
  return user_run_args(&run, uprog_write, va, value, 0, 0);
}

uint64_t usys(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2) {
  struct user_run run = {0, 0, 0, 0};
  return user_run_args(&run, uprog_syscall, nr, a0, a1, a2);
}

static void wake_all_others(void) {
  int self = this_cpu();
  for (uint32_t c = 0; c < cpu_count; c++) {
    if ((int)c != self && READ_ONCE(percpus[c].online)) apic_send_ipi(percpus[c].apic_id, VEC_WAKE);
  }
}

void flag_set(volatile uint32_t* f, uint32_t value) {
  __atomic_store_n(f, value, __ATOMIC_SEQ_CST);
  wake_all_others();
}

void flag_add(volatile uint32_t* f) {
  __atomic_add_fetch(f, 1, __ATOMIC_SEQ_CST);
  wake_all_others();
}

void flag_wait(volatile uint32_t* f, uint32_t want) {
  uint64_t flags = irq_save();
  while (__atomic_load_n(f, __ATOMIC_ACQUIRE) < want) {
    sti_hlt();
    cli();
  }
  restore_flags(flags);
}

void barrier_wait(struct barrier* b) {
  uint32_t gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&b->count, 1, __ATOMIC_SEQ_CST) == online_cpus()) {
    b->count = 0;
    flag_set(&b->gen, gen + 1);
    return;
  }
  flag_wait(&b->gen, gen + 1);
}

static struct {
  cpu_fn fn;
  void* arg;
  volatile uint32_t done;
} all_run;

static void run_one(void* unused) {
  all_run.fn(all_run.arg);
  flag_add(&all_run.done);
}

void run_on_all_cpus(cpu_fn fn, void* arg) {
  all_run.fn = fn;
  all_run.arg = arg;
  all_run.done = 0;
  uint32_t n = 0;
  for (uint32_t c = 1; c < cpu_count; c++) {
    if (!READ_ONCE(percpus[c].online)) continue;
    n++;
    on_cpu_async((int)c, run_one, 0);
  }
  fn(arg);
  flag_wait(&all_run.done, n);
}

void stale_read_event(struct mm* mm, uint64_t va, uint64_t expected, uint64_t observed) {
  event_emit(TLBSCOPE_EV_STALE_READ, 0, mm->ctx_id, va, expected, observed);
  printf("stale read: cpu %d read 0x%lx at 0x%lx of mm %lu, expected 0x%lx\n", this_cpu(), observed,
         va, mm->ctx_id, expected);
}

void bystander_go_idle(volatile uint32_t* idle) {
  thread_exit_to_idle();
  flag_add(idle);
}

void wait_for_bystanders(volatile uint32_t* idle) { flag_wait(idle, online_cpus() - 2); }

uint64_t remap_when_ready(volatile uint32_t* ready, volatile uint32_t* idle, uint64_t va,
                          uint64_t unmap_pages, uint64_t map_pages, uint64_t now,
                          volatile uint32_t* remapped) {
  flag_wait(ready, 1);
  wait_for_bystanders(idle);
  usys(SYS_MUNMAP, va, unmap_pages, 0);
  usys(SYS_MMAP, va, map_pages, now);
  flag_add(remapped);
  return uread(va);
}

void report_reread(const char* name, struct mm* mm, uint64_t va, const uint64_t* first,
                   const uint64_t* again, uint32_t reader, uint64_t old, uint64_t now,
                   const char* what) {
  uint32_t good = 0, n = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!percpus[c].online) continue;
    n++;
    int want_again = c == 0 || c == reader;
    int ok = first[c] == old && (!want_again || again[c] == now);
    if (!ok && want_again) stale_read_event(mm, va, now, again[c]);
    good += ok;
  }
  report(name, good == n, "%u/%u CPUs read the old page, then %s", good, n, what);
}
