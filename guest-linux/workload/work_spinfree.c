// Seed 001's setting: a thread of the mm spins in user mode on CPU 1 (not
// lazy: it runs the mm) after reading a page, so CPU 1's TLB holds the
// page; CPU 0 unmaps the page, which the gather frees after its flush.
// Linux waits for CPU 1's flush_tlb_func before it frees the page; the
// seed-001 kernel does not wait. The race is forced with a hold (the suite
// holds CPU 1 in flush_tlb_func until CPU 0 returns from tlb_finish_mmu):
// tlbscope reports page-freed-while-mapped and flush-done-before-acks.
#define _GNU_SOURCE
#include <sys/mman.h>
#include <pthread.h>
#include <unistd.h>

#include "tlbwork.h"

enum { kPage = 4096 };

struct spin_job {
  volatile char* volatile page;
  volatile int round, seen, stop;
  int cpu;
};

static void* spinner(void* arg) {
  struct spin_job* job = arg;
  pin_to(job->cpu);
  while (!job->stop) {
    int r = job->round;
    if (r != job->seen) {
      (void)job->page[0];  // the page is in this CPU's TLB now
      job->seen = r;
    }
  }
  return NULL;
}

int work_spinfree(const struct work_args* a) {
  struct spin_job job = {.cpu = a->cpus >= 2 ? 1 : 0};
  pin_to(0);
  pthread_t t;
  if (a->cpus < 2 || spawn(spinner, &job, &t)) return check(false, "spinfree", "no thread");
  int rounds = 0, errors = 0;
  for (int i = 1; i <= a->iterations && !errors; i++) {
    char* page = map_anon(kPage);
    if (!page) {
      errors++;
      break;
    }
    page[0] = (char)i;
    job.page = page;
    job.round = i;
    while (job.seen != i) {
    }
    if (munmap(page, kPage) != 0) errors++;
    rounds++;
  }
  job.stop = 1;
  join(&t);
  return check(errors == 0, "spinfree", "%d pages freed while CPU %d ran the mm, %d errors",
               rounds, job.cpu, errors);
}
