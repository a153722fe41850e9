// Context-switch ping-pong: two processes (two mms) pinned to CPU 0 pass a
// byte back and forth through pipes: a switch_mm (CR3 write) per hop.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlbwork.h"

// The parent's context switches, voluntary and not: each round trip needs
// the child (on the same CPU) to run, so the parent leaves CPU 0 at least
// once per round, blocking in read() or preempted between its write and
// read (common where kernel code is slow, e.g. emulated: a tick lands
// there and the reply is waiting when the parent comes back).
static long parent_switches(void) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0) v += strtol(line + 24, NULL, 10);
    if (strncmp(line, "nonvoluntary_ctxt_switches:", 27) == 0) v += strtol(line + 27, NULL, 10);
  }
  fclose(f);
  return v;
}

static int echo_child(int in, int out, int rounds) {
  for (int i = 0; i < rounds; i++) {
    unsigned char b;
    if (read(in, &b, 1) != 1) return 5;
    b++;
    if (write(out, &b, 1) != 1) return 6;
  }
  return 0;
}

int work_pingpong(const struct work_args* a) {
  int to_child[2], to_parent[2];
  if (pipe(to_child) || pipe(to_parent)) return check(false, "pingpong", "pipe failed");
  pin_to(0);
  long switches_before = parent_switches();
  pid_t pid = fork();
  if (pid == 0) _exit(echo_child(to_child[0], to_parent[1], a->iterations));
  if (pid < 0) return check(false, "pingpong", "fork failed");
  int wrong = 0, errors = 0;
  for (int i = 0; i < a->iterations; i++) {
    unsigned char b = (unsigned char)i, back;
    if (write(to_child[1], &b, 1) != 1 || read(to_parent[0], &back, 1) != 1) {
      errors++;
      break;
    }
    wrong += back != (unsigned char)(b + 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  long switches = parent_switches() - switches_before;
  close(to_child[0]);
  close(to_child[1]);
  close(to_parent[0]);
  close(to_parent[1]);
  int child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  int fails = check(errors == 0 && wrong == 0 && child_ok, "pingpong",
                    "%d round trips on CPU 0: %d wrong replies, %d errors, child %s", a->iterations,
                    wrong, errors, child_ok ? "exited 0" : "failed");
  fails += check(switches >= a->iterations, "pingpong-switches",
                 "%ld context switches of the parent (>= %d expected)", switches,
                 a->iterations);
  return fails;
}
