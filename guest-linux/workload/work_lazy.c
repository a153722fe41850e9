// Lazy TLB: a thread reads a page on CPU 1 (its TLB now holds it), then
// sleeps in read(2) so CPU 1 goes idle in lazy TLB mode with this mm; CPU 0
// unmaps the page and maps a new one at the same address; the woken thread
// must read the new page's value, not the old one through a stale entry.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tlbwork.h"

enum { kPage = 4096 };

struct lazy_job {
  int go[2], ack[2];
  volatile char* page;
  int cpu;
  int stale;
};

static void* lazy_sleeper(void* arg) {
  struct lazy_job* job = arg;
  pin_to(job->cpu);
  char want;
  while (read(job->go[0], &want, 1) == 1) {  // blocks: the CPU goes lazy
    if (want == 0) break;
    job->stale += job->page[0] != want;
    if (write(job->ack[1], &want, 1) != 1) break;
  }
  return NULL;
}

int work_lazy(const struct work_args* a) {
  struct lazy_job job = {.cpu = a->cpus >= 2 ? 1 : 0};
  if (pipe(job.go) || pipe(job.ack)) return check(false, "lazy", "pipe failed");
  char* addr = map_anon(kPage);
  if (!addr) return check(false, "lazy", "mmap failed");
  job.page = addr;
  pin_to(0);
  pthread_t sleeper;
  if (spawn(lazy_sleeper, &job, &sleeper)) return check(false, "lazy", "no thread");
  struct tlb_counters before, after;
  read_counters(&before);
  int remapped = 0, errors = 0;
  for (int i = 0; i < a->iterations; i++) {
    char value = (char)(1 + i % 120);
    if (i > 0) {
      usleep(2000);  // the sleeper is blocked in read(2) by now
      if (munmap(addr, kPage) != 0 ||
          mmap(addr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
               0) != addr) {
        errors++;
        break;
      }
      remapped++;
    }
    addr[0] = value;
    char got;
    if (write(job.go[1], &value, 1) != 1 || read(job.ack[0], &got, 1) != 1) {
      errors++;
      break;
    }
  }
  char stop = 0;
  if (write(job.go[1], &stop, 1) != 1) errors++;
  join(&sleeper);
  read_counters(&after);
  close(job.go[0]);
  close(job.go[1]);
  close(job.ack[0]);
  close(job.ack[1]);
  munmap(addr, kPage);
  int fails = check(errors == 0 && job.stale == 0, "lazy",
                    "%d unmap/remap rounds while CPU %d slept: %d stale reads, %d errors", remapped,
                    job.cpu, job.stale, errors);
  fails += check(true, "lazy-counters", "nr_tlb_remote_flush +%llu, TLB IPIs +%llu",
                 (unsigned long long)(after.remote_flush - before.remote_flush),
                 (unsigned long long)(after.tlb_irqs - before.tlb_irqs));
  return fails;
}
