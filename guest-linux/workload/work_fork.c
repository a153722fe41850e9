// fork + exit: the parent (with a thread spinning on CPU 1, so its mm is live
// on two CPUs) forks; fork write-protects the parent's pages (a flush), the
// child writes them (copy on write), checks, and exits (mm teardown); the
// parent's pages must keep the parent's values.
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlbwork.h"

enum { kPages = 8, kPage = 4096 };

static volatile int spin_stop;

static void* fork_spinner(void* arg) {
  volatile char* region = arg;
  pin_to(1);
  while (!spin_stop) (void)region[0];
  return NULL;
}

static int child_body(volatile char* region, int i) {
  for (int pg = 0; pg < kPages; pg++)
    if (region[pg * kPage] != (char)(i + pg)) return 3;
  for (int pg = 0; pg < kPages; pg++) region[pg * kPage] = (char)0x5a;
  for (int pg = 0; pg < kPages; pg++)
    if (region[pg * kPage] != (char)0x5a) return 4;
  return 0;
}

int work_fork(const struct work_args* a) {
  volatile char* region = map_anon(kPages * kPage);
  if (!region) return check(false, "fork", "mmap of %d pages failed", kPages);
  pin_to(0);
  spin_stop = 0;
  pthread_t spinner;
  int have_spinner = a->cpus >= 2 && spawn(fork_spinner, (void*)region, &spinner) == 0;
  struct tlb_counters before, after;
  read_counters(&before);
  int bad_children = 0, leaked = 0;
  for (int i = 0; i < a->iterations; i++) {
    for (int pg = 0; pg < kPages; pg++) region[pg * kPage] = (char)(i + pg);
    pid_t pid = fork();
    if (pid == 0) _exit(child_body(region, i));
    if (pid < 0) {
      bad_children++;
      continue;
    }
    for (int pg = 0; pg < kPages; pg += 2) region[pg * kPage] = (char)(i + pg);  // COW break
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      bad_children++;
    for (int pg = 0; pg < kPages; pg++) leaked += region[pg * kPage] != (char)(i + pg);
  }
  read_counters(&after);
  spin_stop = 1;
  if (have_spinner) join(&spinner);
  int fails = check(bad_children == 0 && leaked == 0, "fork",
                    "%d fork/COW/exit rounds of %d pages: %d bad children, %d child writes seen "
                    "by the parent",
                    a->iterations, kPages, bad_children, leaked);
  uint64_t flushes = (after.remote_flush - before.remote_flush) +
                     (after.local_flush_all - before.local_flush_all) +
                     (after.local_flush_one - before.local_flush_one);
  fails += check(flushes > 0, "fork-flushes", "remote +%llu, local all +%llu, local one +%llu",
                 (unsigned long long)(after.remote_flush - before.remote_flush),
                 (unsigned long long)(after.local_flush_all - before.local_flush_all),
                 (unsigned long long)(after.local_flush_one - before.local_flush_one));
  munmap((void*)region, kPages * kPage);
  return fails;
}
