// munmap storm: one thread per CPU (up to 4) in one mm, each mapping, writing,
// checking and unmapping regions of 1..48 pages (from tlbseed): ranged flushes
// and, above the kernel's 33-page ceiling, full ones, sent to the other CPUs
// of the mm; page tables freed.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "tlbwork.h"

enum { kMaxPages = 48, kPage = 4096, kMaxThreads = 4 };

struct munmap_job {
  int cpu;
  int iterations;
  uint64_t rand;
  int bad;
};

static void* munmap_thread(void* arg) {
  struct munmap_job* job = arg;
  pin_to(job->cpu);
  for (int i = 0; i < job->iterations; i++) {
    int pages = 1 + (int)(next_rand(&job->rand) % kMaxPages);
    volatile char* p = map_anon((size_t)pages * kPage);
    if (!p) return (void*)1;
    for (int pg = 0; pg < pages; pg++) p[pg * kPage] = (char)(i + pg + job->cpu);
    for (int pg = 0; pg < pages; pg++) job->bad += p[pg * kPage] != (char)(i + pg + job->cpu);
    if (munmap((void*)p, (size_t)pages * kPage) != 0) return (void*)1;
  }
  return NULL;
}

int work_munmap(const struct work_args* a) {
  int n = a->cpus < kMaxThreads ? a->cpus : kMaxThreads;
  if (n < 1) n = 1;
  struct munmap_job jobs[kMaxThreads];
  pthread_t threads[kMaxThreads];
  struct tlb_counters before, after;
  read_counters(&before);
  int failed = 0, started = 0;
  for (int t = 0; t < n; t++) {
    jobs[t] = (struct munmap_job){
        .cpu = t, .iterations = a->iterations, .rand = a->seed * 131 + (uint64_t)t};
    if (spawn(munmap_thread, &jobs[t], &threads[t]) == 0) started++;
  }
  int bad = 0;
  for (int t = 0; t < started; t++) {
    failed += join(&threads[t]);
    bad += jobs[t].bad;
  }
  read_counters(&after);
  int fails = check(started == n && failed == 0 && bad == 0, "munmap",
                    "%d threads x %d mmap/write/munmap of 1..%d pages, %d failed, %d bad reads",
                    started, a->iterations, kMaxPages, failed, bad);
  uint64_t sent = after.remote_flush - before.remote_flush;
  fails += check(n < 2 || sent > 0, "munmap-remote-flush",
                 "nr_tlb_remote_flush +%llu, TLB IPIs +%llu on %d CPUs", (unsigned long long)sent,
                 (unsigned long long)(after.tlb_irqs - before.tlb_irqs), n);
  return fails;
}
