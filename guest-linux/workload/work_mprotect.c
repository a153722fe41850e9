// mprotect storm: a region flips between read-write and read-only while a
// thread of the same mm reads it on another CPU; a write after
// mprotect(PROT_READ) must fault every time (a stale writable TLB entry
// would let it through).
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "tlbwork.h"

enum { kPages = 8, kPage = 4096 };

static sigjmp_buf fault_jump;
static volatile int reader_stop;

static void on_segv(int sig) {
  (void)sig;
  siglongjmp(fault_jump, 1);
}

static void* mprotect_reader(void* arg) {
  volatile char* region = arg;
  pin_to(1);
  unsigned sum = 0;
  while (!reader_stop)
    for (int pg = 0; pg < kPages; pg++) sum += (unsigned char)region[pg * kPage];
  return NULL;
}

int work_mprotect(const struct work_args* a) {
  volatile char* region = map_anon(kPages * kPage);
  if (!region) return check(false, "mprotect", "mmap of %d pages failed", kPages);
  for (int pg = 0; pg < kPages; pg++) region[pg * kPage] = 1;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sigaction(SIGSEGV, &sa, &old);
  pin_to(0);
  reader_stop = 0;
  pthread_t reader;
  int have_reader = a->cpus >= 2 && spawn(mprotect_reader, (void*)region, &reader) == 0;
  struct tlb_counters before, after;
  read_counters(&before);
  int faulted = 0, errors = 0;
  for (int i = 0; i < a->iterations; i++) {
    if (mprotect((void*)region, kPages * kPage, PROT_READ) != 0) errors++;
    if (sigsetjmp(fault_jump, 1) == 0) {
      region[(i % kPages) * kPage] = 2;  // must fault
    } else {
      faulted++;
    }
    if (mprotect((void*)region, kPages * kPage, PROT_READ | PROT_WRITE) != 0) errors++;
    region[(i % kPages) * kPage] = 3;
  }
  read_counters(&after);
  reader_stop = 1;
  if (have_reader) join(&reader);
  sigaction(SIGSEGV, &old, NULL);
  int fails = check(faulted == a->iterations && errors == 0, "mprotect",
                    "%d RW->RO->RW flips of %d pages%s: %d/%d writes to RO faulted, %d errors",
                    a->iterations, kPages, have_reader ? " with a reader on CPU 1" : "", faulted,
                    a->iterations, errors);
  uint64_t sent = after.remote_flush - before.remote_flush;
  uint64_t local = (after.local_flush_one - before.local_flush_one) +
                   (after.local_flush_all - before.local_flush_all);
  fails += check(have_reader ? sent > 0 : local > 0, "mprotect-flushes",
                 "nr_tlb_remote_flush +%llu, local flushes +%llu", (unsigned long long)sent,
                 (unsigned long long)local);
  munmap((void*)region, kPages * kPage);
  return fails;
}
