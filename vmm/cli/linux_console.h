#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/devices/probe_channel.h"

namespace tlbscope {
namespace v1 {
class RunResult;
}

// One of the kernel's own TLB counters as guest-linux's /init printed it:
// /proc/vmstat nr_tlb_* (one value) or a /proc/interrupts row (per CPU).
struct LinuxCounter {
  std::string source;  // "vmstat" or "interrupts"
  std::string name;    // nr_tlb_remote_flush, TLB, CAL
  std::vector<uint64_t> values;
  uint64_t total() const;
};

struct LinuxWorkloadRun {
  std::string name;
  bool passed = false;
  double seconds = 0;
};

// What the tlbwork /init (guest-linux/workload) said on the console.
struct LinuxConsoleReport {
  bool seen = false;  // a "TLBWORK init:" line was printed
  std::vector<LinuxWorkloadRun> workloads;
  std::vector<LinuxCounter> counters;        // at the end ("TLBWORK counter ...")
  std::vector<LinuxCounter> begin_counters;  // as /init started ("TLBWORK counter-begin ...")
  std::vector<GuestCheck> checks;            // its PASS/FAIL lines
  int exit_status = -1;                      // "TLBWORK exit N"
  int passed() const;
  int failed() const;
  // The first such counter printed at the end (`begin`: as /init started).
  const LinuxCounter* Find(std::string_view source, std::string_view name,
                           bool begin = false) const;
};

// Parses the serial transcript. The guest controls it: lines, names and
// counts are bounded, and malformed lines are skipped. PASS/FAIL lines count
// only after the "TLBWORK init:" line (guest-probe prints such lines too).
LinuxConsoleReport ParseLinuxConsole(std::string_view serial);

// The summary lines ("tlbscope: linux: ...") for a run that ran tlbwork.
void PrintLinuxReport(const LinuxConsoleReport& report, std::FILE* out);

// Adds the workloads, counters and checks to a RunResult.
void AddLinuxReport(const LinuxConsoleReport& report, v1::RunResult* result);

}  // namespace tlbscope
