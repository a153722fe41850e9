// Small helpers shared by the workloads.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "tlbwork.h"

double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    say("TLBWORK warning: sched_setaffinity(%d): %s\n", cpu, strerror(errno));
}

uint64_t next_rand(uint64_t* state) {  // xorshift64*
  uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545f4914f6cdd1dull;
}

void* map_anon(size_t len) {
  void* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

int spawn(void* (*fn)(void*), void* arg, void* thread_out) {
  int err = pthread_create((pthread_t*)thread_out, NULL, fn, arg);
  if (err) say("TLBWORK error: pthread_create: %s\n", strerror(err));
  return err;
}

int join(void* thread) {
  void* ret = NULL;
  pthread_join(*(pthread_t*)thread, &ret);
  return ret != NULL;
}
