// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE): registered, then
// issued while a thread of the mm spins on CPU 1, so each call IPIs it (CAL).
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tlbwork.h"

static volatile int spin_stop;
static volatile int spinning;

static void* membarrier_spinner(void* arg) {
  (void)arg;
  pin_to(1);
  spinning = 1;
  while (!spin_stop) {
  }
  return NULL;
}

static long membarrier(int cmd) { return syscall(__NR_membarrier, cmd, 0, 0); }

int work_membarrier(const struct work_args* a) {
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) != 0)
    return check(false, "membarrier", "register SYNC_CORE: %s", strerror(errno));
  pin_to(0);
  spin_stop = 0;
  spinning = 0;
  pthread_t spinner;
  int have_spinner = a->cpus >= 2 && spawn(membarrier_spinner, NULL, &spinner) == 0;
  while (have_spinner && !spinning) sched_yield();
  struct tlb_counters before, after;
  read_counters(&before);
  int errors = 0;
  for (int i = 0; i < a->iterations; i++)
    errors += membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) != 0;
  read_counters(&after);
  spin_stop = 1;
  if (have_spinner) join(&spinner);
  uint64_t cal = after.cal_irqs - before.cal_irqs;
  int fails = check(errors == 0, "membarrier", "%d PRIVATE_EXPEDITED_SYNC_CORE calls, %d errors",
                    a->iterations, errors);
  fails +=
      check(!have_spinner || cal > 0, "membarrier-ipis", "function-call IPIs (CAL) +%llu with %s",
            (unsigned long long)cal, have_spinner ? "a thread spinning on CPU 1" : "one CPU");
  return fails;
}
