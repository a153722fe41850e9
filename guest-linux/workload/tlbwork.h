// tlbwork: the /init of the tlbscope test kernel. Each workload is a real
// TLB pattern on real Linux; it prints PASS/FAIL lines and checks the
// kernel's own counters (/proc/vmstat nr_tlb_*, /proc/interrupts TLB/CAL).
#ifndef TLBSCOPE_GUEST_LINUX_WORKLOAD_TLBWORK_H_
#define TLBSCOPE_GUEST_LINUX_WORKLOAD_TLBWORK_H_

#include <stdbool.h>
#include <stdint.h>

struct work_args {
  int iterations;  // tlbiters=N
  uint64_t seed;   // tlbseed=N
  int cpus;        // CPUs online
};

// The kernel's TLB counters at one moment (missing ones read as 0).
struct tlb_counters {
  uint64_t remote_flush;           // nr_tlb_remote_flush
  uint64_t remote_flush_received;  // nr_tlb_remote_flush_received
  uint64_t local_flush_all;        // nr_tlb_local_flush_all
  uint64_t local_flush_one;        // nr_tlb_local_flush_one
  uint64_t tlb_irqs;               // /proc/interrupts TLB, all CPUs
  uint64_t cal_irqs;               // /proc/interrupts CAL, all CPUs
};

struct workload {
  const char* name;
  const char* what;
  int (*run)(const struct work_args* a);  // returns the number of FAILs
};

// report.c
void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
int check(bool pass, const char* name, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));  // 0 if pass, else 1
void read_counters(struct tlb_counters* c);
uint64_t cpu_irq_count(const char* label, int cpu);  // a /proc/interrupts row, one CPU
void print_counters(const char* phase);  // "counter" (end) or "counter-begin"
void vm_exit(int code) __attribute__((noreturn));

// util.c
double now_s(void);
void pin_to(int cpu);
uint64_t next_rand(uint64_t* state);
void* map_anon(size_t len);
int spawn(void* (*fn)(void*), void* arg, void* thread_out);
int join(void* thread);

// One per file: work_*.c
int work_munmap(const struct work_args* a);
int work_madvise(const struct work_args* a);
int work_mprotect(const struct work_args* a);
int work_fork(const struct work_args* a);
int work_lazy(const struct work_args* a);
int work_membarrier(const struct work_args* a);
int work_pingpong(const struct work_args* a);
int work_lazyfree(const struct work_args* a);
int work_unlazy(const struct work_args* a);
int work_spinfree(const struct work_args* a);
int work_lamlazy(const struct work_args* a);
int lamlazy_child(void);  // `tlbwork --lam-child`: one process of lamlazy

#endif  // TLBSCOPE_GUEST_LINUX_WORKLOAD_TLBWORK_H_
