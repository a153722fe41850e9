// Seed 002's setting. A single-threaded process -- a fresh exec of this
// program: LAM can be enabled only in an mm that never had a second thread,
// and a fork inherits that lock -- runs on CPU 1, then moves to CPU 0, so
// CPU 1 idles lazy with its mm loaded. On CPU 0 it enables LAM
// (ARCH_ENABLE_TAGGED_ADDR, 6 bits: LAM_U57); Linux's enable_lam_func() IPI
// must give every CPU that has the mm loaded the LAM bits, the lazy one
// too. It moves back to CPU 1, whose switch (same mm, same tlb_gen) writes
// no CR3, and loads through a tagged pointer there: with the mm's LAM the
// load works, without it the CPU faults (#GP: SIGSEGV). The seed-002
// kernel leaves the lazy CPU alone: tlbscope reports lam-mismatch, and the
// load faults. A CPU without LAM refuses the prctl (ENODEV): the workload
// says SKIP and checks nothing (`tlbscope run --require lam` skips such a
// host before it boots).
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlbwork.h"

#ifndef ARCH_ENABLE_TAGGED_ADDR
#define ARCH_ENABLE_TAGGED_ADDR 0x4002  // asm/prctl.h, Linux 6.4+
#endif

enum lam_child_status {
  kLamLoadWorked = 0,
  kLamNoCpuSupport = 3,  // ENODEV
  kLamLoadFaulted = 4,
  kLamPrctlFailed = 5,
  kLamWrongValue = 6,
};

static sigjmp_buf lam_fault;
static void on_segv(int sig) {
  (void)sig;
  siglongjmp(lam_fault, 1);
}

int lamlazy_child(void) {
  static volatile int word = 42;
  pin_to(1);  // the mm is loaded on CPU 1
  pin_to(0);  // CPU 1 idles lazy in it
  usleep(1000);
  if (syscall(SYS_arch_prctl, ARCH_ENABLE_TAGGED_ADDR, 6) != 0)
    return errno == ENODEV ? kLamNoCpuSupport : kLamPrctlFailed;
  signal(SIGSEGV, on_segv);
  pin_to(1);  // back: CPU 1's switch writes no CR3
  volatile int* tagged = (volatile int*)((uintptr_t)&word | (0x2aull << 57));
  if (sigsetjmp(lam_fault, 1)) return kLamLoadFaulted;
  return *tagged == 42 ? kLamLoadWorked : kLamWrongValue;
}

int work_lamlazy(const struct work_args* a) {
  if (a->cpus < 2) return check(false, "lamlazy", "needs 2 CPUs, has %d", a->cpus);
  pin_to(0);  // this process stays off CPU 1
  int worked = 0, faulted = 0, errors = 0;
  for (int i = 0; i < a->iterations; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/proc/self/exe", "tlbwork", "--lam-child", (char*)NULL);
      _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
      errors++;
      continue;
    }
    switch (WEXITSTATUS(status)) {
      case kLamLoadWorked: worked++; break;
      case kLamLoadFaulted: faulted++; break;
      case kLamNoCpuSupport:
        say("TLBWORK lamlazy SKIP: this CPU has no LAM (ARCH_ENABLE_TAGGED_ADDR: ENODEV)\n");
        return 0;
      default:
        say("TLBWORK lamlazy: child %d exited %d\n", i, WEXITSTATUS(status));
        errors++;
    }
  }
  return check(faulted == 0 && errors == 0, "lamlazy",
               "%d processes enabled LAM on CPU 0 with CPU 1 lazy in their mm; a tagged load "
               "back on CPU 1 worked %d times, faulted %d times (CPU 1 without the mm's LAM); "
               "%d errors",
               a->iterations, worked, faulted, errors);
}
