// madvise(MADV_DONTNEED) from two threads at once on one mm and one region
// (concurrent, nested mmu_gathers): each thread writes its own pages, drops
// the whole region, and its pages must then read as zero.
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "tlbwork.h"

enum { kPages = 16, kPage = 4096 };

struct madvise_job {
  volatile char* region;
  int cpu;
  int parity;
  int iterations;
  int stale;
  int errors;
};

static void* madvise_thread(void* arg) {
  struct madvise_job* job = arg;
  pin_to(job->cpu);
  for (int i = 0; i < job->iterations; i++) {
    for (int pg = job->parity; pg < kPages; pg += 2) job->region[pg * kPage] = (char)(1 + i % 100);
    if (madvise((void*)job->region, kPages * kPage, MADV_DONTNEED) != 0) job->errors++;
    for (int pg = job->parity; pg < kPages; pg += 2) job->stale += job->region[pg * kPage] != 0;
  }
  return NULL;
}

int work_madvise(const struct work_args* a) {
  volatile char* region = map_anon(kPages * kPage);
  if (!region) return check(false, "madvise", "mmap of %d pages failed", kPages);
  struct madvise_job jobs[2];
  pthread_t threads[2];
  struct tlb_counters before, after;
  read_counters(&before);
  int started = 0;
  for (int t = 0; t < 2; t++) {
    jobs[t] = (struct madvise_job){
        .region = region, .cpu = t % a->cpus, .parity = t, .iterations = a->iterations};
    if (spawn(madvise_thread, &jobs[t], &threads[t]) == 0) started++;
  }
  for (int t = 0; t < started; t++) join(&threads[t]);
  read_counters(&after);
  int stale = jobs[0].stale + jobs[1].stale, errors = jobs[0].errors + jobs[1].errors;
  int fails = check(started == 2 && stale == 0 && errors == 0, "madvise",
                    "2 threads x %d write/MADV_DONTNEED/read of %d pages: %d stale reads, "
                    "%d madvise errors",
                    a->iterations, kPages, stale, errors);
  uint64_t flushes = (after.remote_flush - before.remote_flush) +
                     (after.local_flush_all - before.local_flush_all) +
                     (after.local_flush_one - before.local_flush_one);
  fails += check(flushes > 0, "madvise-flushes", "remote +%llu, local all +%llu, local one +%llu",
                 (unsigned long long)(after.remote_flush - before.remote_flush),
                 (unsigned long long)(after.local_flush_all - before.local_flush_all),
                 (unsigned long long)(after.local_flush_one - before.local_flush_one));
  munmap((void*)region, kPages * kPage);
  return fails;
}
