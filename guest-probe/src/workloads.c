// Plain workloads (no bug variant): every CPU runs threads of one or more
// mms and checks every user read against what the kernel says is mapped.
//   munmap-storm:  rounds of mmap / read / munmap / read-must-fault over
//                  seeded ranges (1..40 pages: partial and full flushes,
//                  page tables freed when a slot empties).
//   mprotect-storm: rounds of mprotect over a range; every CPU writes its
//                  page, which must fault exactly when read-only.
//   cs-pingpong:   every CPU switches between two mms and a lazy kernel
//                  thread, reading each mm's data page.
//   many-mms:      every CPU visits six mms in a seeded order, remapping
//                  its own page in each (shootdowns to the CPUs that still
//                  have the mm in their cpumask, which trim themselves).
#include "console.h"
#include "probe.h"
#include "scenarios.h"
#include "threads.h"
#include "user.h"
#include "user_abi.h"
#include "vm.h"

static struct world w[6];
static struct barrier bar;
static uint32_t bad[MAX_CPUS], checked[MAX_CPUS];

static void expect(uint64_t got, uint64_t want, const char* what, uint64_t va) {
  uint32_t c = (uint32_t)this_cpu();
  checked[c]++;
  if (got == want) return;
  if (bad[c]++ == 0) {
    printf("%s: cpu %u read 0x%lx at 0x%lx, expected 0x%lx\n", what, c, got, va, want);
  }
  if (got != USER_FAULTED) stale_read_event(cpu_tlbstate[c].loaded_mm, va, want, got);
}

static void reset_counts(void) {
  for (uint32_t c = 0; c < MAX_CPUS; c++) bad[c] = checked[c] = 0;
}

static int report_counts(const char* name, const char* what) {
  uint32_t nbad = 0, n = 0;
  for (uint32_t c = 0; c < cpu_count; c++) {
    nbad += bad[c];
    n += checked[c];
  }
  int clean = vm_checks.unsafe_page_frees == 0 && vm_checks.unsafe_table_frees == 0;
  return report(name, nbad == 0 && n > 0 && clean,
                "%u/%u reads right (%s); freed %u pages, %u tables, %u unsafely", n - nbad, n, what,
                vm_checks.page_frees, vm_checks.table_frees,
                vm_checks.unsafe_page_frees + vm_checks.unsafe_table_frees);
}

// --- munmap-storm ---------------------------------------------------------

#define STORM_ROUNDS 6
static uint64_t storm_va[STORM_ROUNDS], storm_n[STORM_ROUNDS];

static void munmap_storm_thread(void* unused) {
  uint32_t c = (uint32_t)this_cpu(), n = online_cpus();
  thread_switch(&w[0].mm);
  for (uint32_t r = 0; r < STORM_ROUNDS; r++) {
    uint64_t va = storm_va[r], np = storm_n[r], value = 0x1000000ull * (r + 1);
    if (c == r % n) usys(SYS_MMAP, va, np, value);
    barrier_wait(&bar);
    uint64_t page = (c * 7 + r) % np;
    expect(uread(va + page * PAGE_SIZE), value + page, "munmap-storm mapped", va);
    barrier_wait(&bar);
    // Odd rounds unmap the whole 2 MiB slot, which frees its page table.
    if (c == r % n && (r & 1)) usys(SYS_MUNMAP, va & ~((2ull << 20) - 1), 512, 0);
    if (c == r % n && !(r & 1)) usys(SYS_MUNMAP, va, np, 0);
    barrier_wait(&bar);
    expect(uread(va + page * PAGE_SIZE), USER_FAULTED, "munmap-storm unmapped", va);
    barrier_wait(&bar);
  }
  thread_exit_to_idle();
}

void scenario_munmap_storm(void) {
  world_init(&w[0], 0);
  for (uint32_t r = 0; r < STORM_ROUNDS; r++) {
    storm_n[r] = 1 + rand_below(40);
    uint64_t slot = rand_below(USER_MMAP_SLOTS);
    uint64_t off = rand_below(512 - storm_n[r] + 1);
    storm_va[r] = USER_MMAP_BASE + slot * (2ull << 20) + off * PAGE_SIZE;
  }
  reset_counts();
  run_on_all_cpus(munmap_storm_thread, 0);
  report_counts("munmap_storm", "mapped pages, then faults after munmap");
}

// --- mprotect-storm -------------------------------------------------------

static uint64_t prot_va;

static void mprotect_storm_thread(void* unused) {
  uint32_t c = (uint32_t)this_cpu(), n = online_cpus();
  thread_switch(&w[0].mm);
  for (uint32_t r = 0; r < STORM_ROUNDS; r++) {
    int writable = r & 1;
    if (c == r % n) usys(SYS_MPROTECT, prot_va, n, (uint64_t)writable);
    barrier_wait(&bar);
    uint64_t va = prot_va + c * PAGE_SIZE;
    expect(uwrite(va, r), writable ? 0 : USER_FAULTED, "mprotect-storm write", va);
    barrier_wait(&bar);
  }
  thread_exit_to_idle();
}

void scenario_mprotect_storm(void) {
  world_init(&w[0], 0);
  prot_va = USER_MMAP_BASE + rand_below(USER_MMAP_SLOTS * 512 - MAX_CPUS) * PAGE_SIZE;
  vm_mmap(&w[0].mm, prot_va, online_cpus(), 0);
  reset_counts();
  run_on_all_cpus(mprotect_storm_thread, 0);
  report_counts("mprotect_storm", "writes fault exactly when read-only");
}

// --- cs-pingpong ----------------------------------------------------------

#define PINGPONG_SWITCHES 12

static void pingpong_thread(void* unused) {
  for (uint32_t i = 0; i < PINGPONG_SWITCHES; i++) {
    struct world* x = &w[(i + (uint32_t)this_cpu()) & 1];
    thread_switch(&x->mm);
    expect(uread(USER_DATA_VA), x->mm.ctx_id, "cs-pingpong", USER_DATA_VA);
    if (i % 3 == 2) kthread_begin();
  }
  thread_exit_to_idle();
}

void scenario_cs_pingpong(void) {
  world_init(&w[0], 0);
  world_init(&w[1], 0);
  for (int i = 0; i < 2; i++) {
    *(uint64_t*)(uintptr_t)(*aspace_pte(&w[i].as, USER_DATA_VA) & PTE_ADDR_MASK) = w[i].mm.ctx_id;
  }
  reset_counts();
  run_on_all_cpus(pingpong_thread, 0);
  report_counts("cs_pingpong", "each mm's own data page");
}

// --- many-mms -------------------------------------------------------------

#define MANY_VISITS 8
static uint32_t visit_order[MAX_CPUS][MANY_VISITS];
static uint64_t many_va;

static void many_mms_thread(void* unused) {
  uint32_t c = (uint32_t)this_cpu();
  uint64_t va = many_va + c * PAGE_SIZE;  // this CPU's own page in every mm
  for (uint32_t i = 0; i < MANY_VISITS; i++) {
    struct world* x = &w[visit_order[c][i]];
    thread_switch(&x->mm);
    uint64_t value = (x->mm.ctx_id << 32) | (c << 16) | i;
    usys(SYS_MUNMAP, va, 1, 0);
    usys(SYS_MMAP, va, 1, value);
    expect(uread(va), value, "many-mms", va);
  }
  thread_exit_to_idle();
}

void scenario_many_mms(void) {
  many_va = USER_MMAP_BASE + rand_below(USER_MMAP_SLOTS * 512 - MAX_CPUS) * PAGE_SIZE;
  for (int i = 0; i < 6; i++) world_init(&w[i], 0);
  for (uint32_t c = 0; c < cpu_count; c++) {
    for (uint32_t i = 0; i < MANY_VISITS; i++) visit_order[c][i] = (uint32_t)rand_below(6);
  }
  reset_counts();
  run_on_all_cpus(many_mms_thread, 0);
  report_counts("many_mms", "each CPU's page in each mm after its remap");
}
