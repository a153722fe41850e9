// The /init of the tlbscope test kernel. The kernel command line chooses the
// workload: tlbwork=NAME (or "all", the default), tlbiters=N (default 20),
// tlbseed=N. Linux hands unknown NAME=VALUE parameters to init as
// environment variables; argv works too (tlbwork NAME [ITERS [SEED]]) when
// run by hand. The exit status reaches the VMM through port 0xf4:
// 0 every check passed, 1 a FAIL, 2 a bad command line.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlbwork.h"

static const struct workload kWorkloads[] = {
    {"munmap", "munmap storm across threads on every CPU", work_munmap},
    {"madvise", "MADV_DONTNEED from two threads on one mm", work_madvise},
    {"mprotect", "mprotect RW/RO storm with a reader on another CPU", work_mprotect},
    {"fork", "fork + COW + exit with the mm live on two CPUs", work_fork},
    {"lazy", "unmap while a thread of the mm sleeps (lazy TLB)", work_lazy},
    {"membarrier", "membarrier PRIVATE_EXPEDITED_SYNC_CORE", work_membarrier},
    {"pingpong", "context-switch ping-pong of two processes on one CPU", work_pingpong},
    {"lazyfree", "page tables freed while a CPU of the mm is lazy (seed 000)", work_lazyfree},
    {"unlazy", "a SYNC_CORE thread woken on its lazy CPU (seed 004)", work_unlazy},
    {"spinfree", "pages freed while a thread spins on another CPU (seed 001)", work_spinfree},
    {"lamlazy", "LAM enabled while a CPU of the mm is lazy (seed 002)", work_lamlazy},
};
enum { kNumWorkloads = sizeof kWorkloads / sizeof kWorkloads[0] };

static void setup_console_and_proc(void) {
  if (fcntl(1, F_GETFD) < 0) {  // no /dev/console in the initramfs
    mkdir("/dev", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    int fd = open("/dev/console", O_RDWR);
    if (fd < 0) fd = open("/dev/ttyS0", O_RDWR);
    if (fd >= 0) {
      dup2(fd, 0);
      dup2(fd, 1);
      dup2(fd, 2);
    }
  }
  mkdir("/proc", 0555);
  if (mount("proc", "/proc", "proc", 0, NULL) != 0 && errno != EBUSY)
    say("TLBWORK error: mount /proc: %s\n", strerror(errno));
}

// A decimal in [lo, hi], or -1.
static long parse_number(const char* s, long lo, long hi) {
  if (!s || !*s) return -1;
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  return v;
}

static int usage_error(const char* what, const char* value) {
  char names[256] = "all";
  for (int i = 0; i < kNumWorkloads; i++) {
    strncat(names, " ", sizeof names - strlen(names) - 1);
    strncat(names, kWorkloads[i].name, sizeof names - strlen(names) - 1);
  }
  say("TLBWORK error: %s '%.64s' (workloads: %s; tlbiters=1..100000)\n", what, value, names);
  return 2;
}

static int run_one(const struct workload* w, const struct work_args* a) {
  say("TLBWORK start %s: %s, %d iterations, seed %llu, %d CPUs\n", w->name, w->what, a->iterations,
      (unsigned long long)a->seed, a->cpus);
  double t0 = now_s();
  int fails = w->run(a);
  say("TLBWORK done %s %s %.3f s\n", w->name, fails ? "FAIL" : "PASS", now_s() - t0);
  return fails;
}

static int run(const char* name, const char* iters, const char* seed) {
  struct work_args a = {.iterations = 20, .seed = 1, .cpus = (int)sysconf(_SC_NPROCESSORS_ONLN)};
  if (a.cpus < 1) a.cpus = 1;
  if (iters && (a.iterations = (int)parse_number(iters, 1, 100000)) < 0)
    return usage_error("bad tlbiters", iters);
  long s = seed ? parse_number(seed, 0, 0x7fffffff) : 1;
  if (s < 0) return usage_error("bad tlbseed", seed);
  a.seed = (uint64_t)s;
  if (!name) name = "all";
  int fails = 0, found = 0;
  for (int i = 0; i < kNumWorkloads; i++) {
    if (strcmp(name, "all") != 0 && strcmp(name, kWorkloads[i].name) != 0) continue;
    found = 1;
    fails += run_one(&kWorkloads[i], &a);
  }
  if (!found) return usage_error("unknown workload", name);
  return fails ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--lam-child") == 0) return lamlazy_child();
  if (getpid() == 1) setup_console_and_proc();  // by hand, the host's /proc is there
  say("TLBWORK init: guest uptime %.3f s, %ld CPUs online\n", now_s(),
      sysconf(_SC_NPROCESSORS_ONLN));
  print_counters("counter-begin");
  const char *name = getenv("tlbwork"), *iters = getenv("tlbiters"), *seed = getenv("tlbseed");
  if (argc > 1) name = argv[1];
  if (argc > 2) iters = argv[2];
  if (argc > 3) seed = argv[3];
  int status = run(name, iters, seed);
  print_counters("counter");
  if (getpid() == 1) vm_exit(status);
  return status;
}
