// Seed 001's setting: a thread of the mm spins in user mode on CPU 1 (not
// lazy: it runs the mm) after reading a page, so CPU 1's TLB holds the
// page; CPU 0 unmaps the page, which the gather frees after its flush.
// Linux waits for CPU 1's flush_tlb_func before it frees the page; the
// seed-001 kernel does not wait. The race is forced with a hold (the suite
// holds CPU 1 in flush_tlb_func until CPU 0 returns from tlb_finish_mmu):
// tlbscope reports page-freed-while-mapped and flush-done-before-acks.
// A round counts only if CPU 1 ran flush_tlb_func for it (its TLB
// shootdown count in /proc/interrupts moved): a spinner switched out
// before the flush leaves CPU 1 lazy, which Linux rightly does not flush,
// and the race is not set up. Such a round is done again.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tlbwork.h"

enum { kPage = 4096 };

struct spin_job {
  volatile char* volatile page;
  volatile int round, seen, stop;
  volatile int off_cpu;  // rounds the spinner was not on `cpu`
  int cpu;
};

static void* spinner(void* arg) {
  struct spin_job* job = arg;
  pin_to(job->cpu);
  while (!job->stop) {
    int r = job->round;
    if (r != job->seen) {
      (void)job->page[0];  // the page is in this CPU's TLB now
      if (sched_getcpu() != job->cpu) job->off_cpu++;
      job->seen = r;
    }
  }
  return NULL;
}

// Hands the spinner round i on `page` and waits until it has read it.
static void spin_to(struct spin_job* job, int i, volatile char* page) {
  job->page = page;
  job->round = i;
  while (job->seen != i) {
  }
}

// One round: map, let the spinner read the page, unmap, let the spinner
// read a page still mapped. True if CPU 1 ran flush_tlb_func meanwhile.
// The count is read once the spinner is back in user mode, so CPU 1 is
// done with any flush (with the seed-001 kernel and its hold, CPU 1 is held
// in flush_tlb_func until CPU 0 is back from the unmap), and CPU 0 does no
// kernel work while that kernel's CPU 1 may still read its flush info.
static bool spin_round(struct spin_job* job, int i, int* errors) {
  static char still_mapped;
  char* page = map_anon(kPage);
  if (!page) {
    (*errors)++;
    return false;
  }
  page[0] = (char)i;
  spin_to(job, 2 * i - 1, page);
  uint64_t flushes = cpu_irq_count("TLB", job->cpu);
  if (munmap(page, kPage) != 0) (*errors)++;
  spin_to(job, 2 * i, &still_mapped);
  return cpu_irq_count("TLB", job->cpu) != flushes;
}

int work_spinfree(const struct work_args* a) {
  struct spin_job job = {.cpu = a->cpus >= 2 ? 1 : 0};
  pin_to(0);
  pthread_t t;
  if (a->cpus < 2 || spawn(spinner, &job, &t)) return check(false, "spinfree", "no thread");
  int rounds = 0, redone = 0, errors = 0;
  const int max_tries = 4 * a->iterations;
  for (int i = 1; rounds < a->iterations && i <= max_tries && !errors; i++) {
    if (spin_round(&job, i, &errors)) {
      rounds++;
    } else {
      redone++;
    }
  }
  job.stop = 1;
  join(&t);
  return check(errors == 0 && rounds == a->iterations && job.off_cpu == 0, "spinfree",
               "%d pages freed while CPU %d ran the mm (%d rounds done again: CPU %d was not "
               "flushed, the spinner switched out), %d errors, %d rounds off its CPU",
               rounds, job.cpu, redone, job.cpu, errors, job.off_cpu);
}
