// The default scenario: one report() line per check.
#include "console.h"
#include "cpu.h"
#include "lib.h"
#include "mm.h"
#include "probe.h"
#include "scenarios.h"
#include "smp.h"
#include "tlb.h"
#include "user.h"

#define PING_ROUNDS 3
#define PING_TIMEOUT_US 2000000  // generous: a loaded host may not run a vCPU for a while
#define CR3_ROUNDS 2
#define SUM_N 100000ul

#define VAL_A 0xaaaa0000aaaa0001ul
#define VAL_B 0xbbbb0000bbbb0002ul
#define VAL_OLD 0x1111000011110001ul
#define VAL_NEW 0x2222000022220002ul

static struct aspace as_a, as_b, as_flip, as_task;
static uint64_t *flip_old_page, *flip_new_page;

// Kernel pointer to the page backing `va` in `as` (identity map).
static uint64_t* backing(struct aspace* as, uint64_t va) {
  return (uint64_t*)(uintptr_t)(*aspace_pte(as, va) & PTE_ADDR_MASK);
}

static int cpu_usable(uint32_t c) { return READ_ONCE(percpus[c].online); }

// --- 1. cpus_online ---------------------------------------------------------

static void test_cpus_online(void) {
  uint32_t online = smp_online_count();
  report("cpus_online", online == cpu_count, "%u of %u CPUs online", online, cpu_count);
}

// --- 2. ipi_pingpong --------------------------------------------------------

struct ping_job {
  int target;
  uint32_t ok;
  uint64_t cycles;
};

static void pinger(void* p) {
  struct ping_job* j = p;
  for (int r = 0; r < PING_ROUNDS; r++) {
    uint64_t t0 = rdtsc();
    j->ok += (uint32_t)smp_ping(j->target, PING_TIMEOUT_US);
    j->cycles += rdtsc() - t0;
  }
}

static void test_ipi_pingpong(void) {
  uint32_t pairs = 0, ok = 0, want = 0;
  uint64_t cycles = 0;
  for (uint32_t a = 0; a < cpu_count; a++) {
    for (uint32_t b = 0; b < cpu_count; b++) {
      if (a == b || !cpu_usable(a) || !cpu_usable(b)) continue;
      struct ping_job j = {(int)b, 0, 0};
      on_cpu((int)a, pinger, &j);
      if (j.ok != PING_ROUNDS) {
        printf("ipi_pingpong: cpu %u -> cpu %u: %u of %d pongs\n", a, b, j.ok, PING_ROUNDS);
      }
      pairs++;
      ok += j.ok;
      want += PING_ROUNDS;
      cycles += j.cycles;
    }
  }
  if (pairs == 0) {
    report("ipi_pingpong", 1, "skipped: only one CPU online");
    return;
  }
  report("ipi_pingpong", ok == want,
         "%u of %u ping/pong round trips over %u ordered pairs, avg %lu TSC "
         "cycles",
         ok, want, pairs, cycles / (want ? want : 1));
}

// --- 3. cr3_switch ----------------------------------------------------------

struct cr3_result {
  uint32_t kernel_ok, user_ok;
};
static struct cr3_result cr3_results[MAX_CPUS];

static void cr3_switch_on_cpu(void* unused) {
  struct cr3_result* r = &cr3_results[this_cpu()];
  volatile uint64_t* data = (volatile uint64_t*)USER_DATA_VA;
  // CPL0 reads through the user window of the live CR3.
  for (int i = 0; i < CR3_ROUNDS; i++) {
    write_cr3(aspace_cr3(&as_a));
    r->kernel_ok += *data == VAL_A;
    write_cr3(aspace_cr3(&as_b));
    r->kernel_ok += *data == VAL_B;
  }
  write_cr3(kernel_cr3());
  // And CPL3 reads (real TLB on the development host).
  struct user_run ra = {&as_a, 0, 0, 0}, rb = {&as_b, 0, 0, 0};
  r->user_ok += user_run(&ra, uprog_read, USER_DATA_VA) == VAL_A;
  r->user_ok += user_run(&rb, uprog_read, USER_DATA_VA) == VAL_B;
}

static void test_cr3_switch(void) {
  uint32_t cpus = 0, good = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!cpu_usable(c)) continue;
    on_cpu((int)c, cr3_switch_on_cpu, 0);
    struct cr3_result* r = &cr3_results[c];
    int ok = r->kernel_ok == 2 * CR3_ROUNDS && r->user_ok == 2;
    if (!ok) {
      printf(
          "cr3_switch: cpu %u: %u of %d kernel reads, %u of 2 user reads "
          "right\n",
          c, r->kernel_ok, 2 * CR3_ROUNDS, r->user_ok);
    }
    cpus++;
    good += ok;
  }
  report("cr3_switch", good == cpus,
         "%u of %u CPUs read the right page in 2 address spaces "
         "(%d CPL0 + 2 CPL3 reads each)",
         good, cpus, 2 * CR3_ROUNDS);
}

// --- 4. invlpg --------------------------------------------------------------

struct invlpg_result {
  uint64_t first, before_flush, after_flush;
};
static struct invlpg_result invlpg_results[MAX_CPUS];

// The task yields after its first read (we repoint the PTE, no flush) and
// after its second read (we INVLPG); its third read is its exit value.
static uint64_t invlpg_yield(struct user_run* run, uint32_t n, uint64_t value) {
  struct invlpg_result* r = run->ctx;
  if (n == 1) {
    r->first = value;
    aspace_map(run->as, USER_PROBE_VA, (uintptr_t)flip_new_page, PTE_U | PTE_W);
  } else if (n == 2) {
    r->before_flush = value;
    invlpg(USER_PROBE_VA);
  }
  return 0;
}

static void invlpg_on_cpu(void* unused) {
  struct invlpg_result* r = &invlpg_results[this_cpu()];
  // as_flip is not live anywhere now, and the CR3 load in user_run drops
  // any old translation (no PCID), so a plain store is enough here.
  aspace_map(&as_flip, USER_PROBE_VA, (uintptr_t)flip_old_page, PTE_U | PTE_W);
  struct user_run run = {&as_flip, invlpg_yield, r, 0};
  r->after_flush = user_run(&run, uprog_read3, USER_PROBE_VA);
}

static void test_invlpg(void) {
  uint32_t cpus = 0, good = 0, stale = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!cpu_usable(c)) continue;
    on_cpu((int)c, invlpg_on_cpu, 0);
    struct invlpg_result* r = &invlpg_results[c];
    int ok = r->first == VAL_OLD && r->after_flush == VAL_NEW;
    if (!ok) {
      printf(
          "invlpg: cpu %u read 0x%lx, then 0x%lx, then 0x%lx after "
          "INVLPG\n",
          c, r->first, r->before_flush, r->after_flush);
    }
    cpus++;
    good += ok;
    stale += r->before_flush == VAL_OLD;
  }
  report("invlpg", good == cpus,
         "%u of %u CPUs saw the new page after INVLPG; stale before INVLPG "
         "on %u of %u",
         good, cpus, stale, cpus);
}

// --- 5. user_task -----------------------------------------------------------

struct task_result {
  uint64_t sum, stored, cpu;
  uint64_t cycles;
};
static struct task_result task_results[MAX_CPUS];

static void user_task_on_cpu(void* unused) {
  struct task_result* r = &task_results[this_cpu()];
  struct user_run run = {&as_task, 0, 0, 0};
  uint64_t t0 = rdtsc();
  r->sum = user_run(&run, uprog_sum_squares, SUM_N + (uint64_t)this_cpu());
  r->cycles = rdtsc() - t0;
  r->stored = *backing(&as_task, USER_DATA_VA);
  r->cpu = user_run(&run, uprog_getcpu, 0);
}

static void test_user_task(void) {
  uint32_t cpus = 0, good = 0;
  uint64_t cycles = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    if (!cpu_usable(c)) continue;
    on_cpu((int)c, user_task_on_cpu, 0);
    struct task_result* r = &task_results[c];
    uint64_t n = SUM_N + c;
    uint64_t want = n * (n + 1) * (2 * n + 1) / 6;
    int ok = r->sum == want && r->stored == want && r->cpu == c;
    if (!ok) {
      printf(
          "user_task: cpu %u: sum 0x%lx (want 0x%lx), stored 0x%lx, "
          "getcpu %lu\n",
          c, r->sum, want, r->stored, r->cpu);
    }
    cpus++;
    good += ok;
    cycles += r->cycles;
  }
  report("user_task", good == cpus,
         "%u of %u CPUs ran sum(i*i, i<=%lu+cpu) at CPL3 right, %lu TSC cycles "
         "per task",
         good, cpus, SUM_N, cycles / (cpus ? cpus : 1));
}

// ---------------------------------------------------------------------------

static void setup_address_spaces(void) {
  aspace_init(&as_a);
  aspace_init(&as_b);
  aspace_init(&as_flip);
  aspace_init(&as_task);
  *backing(&as_a, USER_DATA_VA) = VAL_A;
  *backing(&as_b, USER_DATA_VA) = VAL_B;
  flip_old_page = page_alloc();
  flip_new_page = page_alloc();
  *flip_old_page = VAL_OLD;
  *flip_new_page = VAL_NEW;
}

void scenario_selftest(void) {
  test_cpus_online();
  test_ipi_pingpong();
  setup_address_spaces();
  test_cr3_switch();
  test_invlpg();
  test_user_task();
}
