#pragma once

// A Linux run checked against the kernel's own TLB counters: what
// guest-linux's /init printed from /proc/vmstat (nr_tlb_*, DEBUG_TLBFLUSH)
// set against what tlbscope trapped and what the probes' events say
// (docs/linux.md, "The kernel's own counters").

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "collectors/kernel_tally.h"
#include "vmm/cli/linux_console.h"

namespace tlbscope {
namespace v1 {
class RunResult;
}

// tlbscope's side: every count runs from the guest's first instruction, as
// the kernel's run from boot; to the guest's exit, and for the equal rows
// to the guest's read of its counters too when it marked that read
// (tally.read_begin/read_end).
struct ObservedTlbCounts {
  bool trapped = false;                  // TLB instructions were trapped (not --no-trap)
  uint64_t cr3_writes = 0, invlpgs = 0;  // trapped on every vCPU
  bool collected = false;                // the collector saw the stream (not --no-collect)
  uint64_t guest_events = 0;             // events other than trapped instructions
  collect::KernelTally tally;
  int online_cpus = 1;  // the run's vCPUs: /proc/vmstat sums over them
  // Flushes the kernel counted on the boot per-CPU area, counted again for
  // each other CPU by /proc/vmstat (the area is copied to every CPU's).
  uint64_t BootPercpuCopies(const collect::KernelCounts& c) const;
};

enum class CounterVerdict { kAgree, kMismatch, kNotChecked };

struct CounterCheck {
  std::string counter;    // nr_tlb_remote_flush, ...
  bool at_most = false;   // the kernel's value must be <= ours (else equal)
  std::string ours_what;  // what tlbscope counted, e.g. "trapped INVLPGs"
  uint64_t kernel = 0, ours = 0;
  // Set when the guest marked its read of the counters (guest_mark): the
  // kernel's snapshot lies between tlbscope's counts as the read began
  // (ours_at_read_begin) and as it ended (ours); else ours is the whole run.
  std::optional<uint64_t> ours_at_read_begin;
  std::optional<uint64_t> begin;  // the kernel's value as /init started
  CounterVerdict verdict = CounterVerdict::kNotChecked;
  std::string reason;  // why not checked, or what a mismatch may mean
};

// One check per (counter, what tlbscope counts), in a fixed order; empty
// when the console has no tlbwork /init. Pure: the console text is parsed
// before (bounded, validated: a counter printed twice with different
// values, or lower at the end than at the start, is not checked).
std::vector<CounterCheck> CompareKernelCounters(const LinuxConsoleReport& console,
                                                const ObservedTlbCounts& ours);

int CountCounterMismatches(const std::vector<CounterCheck>& checks);

// "tlbscope: kernel counter ..." lines, one per check, and a total.
void PrintCounterChecks(const std::vector<CounterCheck>& checks, std::FILE* out);

// RunResult.kernel_counter_checks.
void AddCounterChecks(const std::vector<CounterCheck>& checks, v1::RunResult* result);

}  // namespace tlbscope
