// Seed 004's setting: the mm is registered for membarrier
// PRIVATE_EXPEDITED_SYNC_CORE; a thread on CPU 1 sleeps in read(2) (CPU 1
// idles lazy with this mm) and is woken by CPU 0 with nothing flushed in
// between, so its switch back writes no CR3 (same mm, same generation).
// Linux's finish_task_switch() must then serialize the core before the
// thread returns to user mode; the seed-004 kernel does not, and tlbscope
// reports unlazy-without-sync-core.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <string.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <unistd.h>

#include "tlbwork.h"

struct unlazy_job {
  int go[2], ack[2];
  int cpu;
};

static void* unlazy_sleeper(void* arg) {
  struct unlazy_job* job = arg;
  pin_to(job->cpu);
  char c;
  while (read(job->go[0], &c, 1) == 1 && c != 0) {  // blocks: the CPU goes lazy
    if (write(job->ack[1], &c, 1) != 1) break;
  }
  return NULL;
}

int work_unlazy(const struct work_args* a) {
  if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) != 0)
    return check(false, "unlazy", "register SYNC_CORE: %s", strerror(errno));
  struct unlazy_job job = {.cpu = a->cpus >= 2 ? 1 : 0};
  if (pipe(job.go) || pipe(job.ack)) return check(false, "unlazy", "pipe failed");
  pin_to(0);
  pthread_t sleeper;
  if (spawn(unlazy_sleeper, &job, &sleeper)) return check(false, "unlazy", "no thread");
  int rounds = 0, errors = 0;
  for (int i = 0; i < a->iterations && !errors; i++) {
    usleep(2000);  // the sleeper is blocked in read(2): CPU 1 is lazy
    char c = 1;
    if (write(job.go[1], &c, 1) != 1 || read(job.ack[0], &c, 1) != 1) errors++;
    rounds++;
  }
  char stop = 0;
  if (write(job.go[1], &stop, 1) != 1) errors++;
  join(&sleeper);
  for (int i = 0; i < 2; i++) {
    close(job.go[i]);
    close(job.ack[i]);
  }
  return check(errors == 0, "unlazy", "%d wake-ups of a SYNC_CORE thread on lazy CPU %d, %d errors",
               rounds, job.cpu, errors);
}
