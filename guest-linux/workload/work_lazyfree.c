// Seed 000's setting: a thread of the mm touches a 2 MiB-aligned region on
// CPU 1 (its paging-structure caches now hold the region's page table),
// then sleeps in read(2) so CPU 1 idles in lazy TLB mode with this mm; CPU
// 0 unmaps the whole region, which frees its page table (freed_tables).
// Linux must flush the lazy CPU too before that table is reused
// (native_flush_tlb_multi: "send the IPI everywhere"); the seed-000 kernel
// skips it, and tlbscope reports table-freed-while-walkable.
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <pthread.h>
#include <unistd.h>

#include "tlbwork.h"

enum { kRegion = 2 << 20 };

struct lazyfree_job {
  int go[2], ack[2];
  volatile char* region;
  int cpu;
};

static void* lazyfree_sleeper(void* arg) {
  struct lazyfree_job* job = arg;
  pin_to(job->cpu);
  char c;
  while (read(job->go[0], &c, 1) == 1 && c != 0) {  // blocks: the CPU goes lazy
    c = job->region[0] + job->region[kRegion - 1];  // walk the region's table
    if (write(job->ack[1], &c, 1) != 1) break;
  }
  return NULL;
}

// A region of kRegion bytes on a kRegion boundary, so that unmapping it
// empties (and frees) its page table.
static char* map_aligned_region(void) {
  char* raw = map_anon(2 * kRegion);
  if (!raw) return NULL;
  uintptr_t start = ((uintptr_t)raw + kRegion - 1) & ~(uintptr_t)(kRegion - 1);
  if (start > (uintptr_t)raw) munmap(raw, start - (uintptr_t)raw);
  munmap((char*)start + kRegion, (uintptr_t)raw + 2 * kRegion - start - kRegion);
  return (char*)start;
}

int work_lazyfree(const struct work_args* a) {
  struct lazyfree_job job = {.cpu = a->cpus >= 2 ? 1 : 0};
  if (pipe(job.go) || pipe(job.ack)) return check(false, "lazyfree", "pipe failed");
  pin_to(0);
  pthread_t sleeper;
  if (spawn(lazyfree_sleeper, &job, &sleeper)) return check(false, "lazyfree", "no thread");
  int rounds = 0, errors = 0;
  for (int i = 0; i < a->iterations && !errors; i++) {
    char* region = map_aligned_region();
    if (!region) {
      errors++;
      break;
    }
    region[0] = 1;
    region[kRegion - 1] = 2;
    job.region = region;
    char c = 1;
    if (write(job.go[1], &c, 1) != 1 || read(job.ack[0], &c, 1) != 1) errors++;
    usleep(2000);  // the sleeper is blocked in read(2): CPU 1 is lazy
    if (munmap(region, kRegion) != 0) errors++;
    rounds++;
  }
  char stop = 0;
  if (write(job.go[1], &stop, 1) != 1) errors++;
  join(&sleeper);
  for (int i = 0; i < 2; i++) {
    close(job.go[i]);
    close(job.ack[i]);
  }
  return check(errors == 0, "lazyfree",
               "%d page tables freed while CPU %d slept in lazy mode, %d errors", rounds, job.cpu,
               errors);
}
