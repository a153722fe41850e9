#pragma once

// What `tlbscope run` reports after the guest stopped: the lines on stderr
// and the --results file (tlbscope.v1.RunResult).

#include <string>

#include "absl/status/status.h"
#include "vmm/cli/collect_sink.h"
#include "vmm/cli/kernel_counters.h"
#include "vmm/cli/linux_console.h"
#include "vmm/cli/requirements.h"
#include "vmm/cli/run_command.h"
#include "vmm/machine/machine.h"

namespace tlbscope {

// Why the guest stopped, where each vCPU was (timeout, interrupt), the
// emulation fixups and the guest's own checks.
void ReportOutcome(const RunOutcome& r, int smp);

// The trap plan, counts per vCPU, and the comparison with the guest's own
// counts and the step windows.
void ReportTraps(const RunOutcome& r);

// --results FILE: the run as protobuf JSON; `collector` may be null.
absl::Status WriteResults(const std::string& path, const RunOptions& o, const RunOutcome& r,
                          const CollectSink* collector, const LinuxConsoleReport& linux_report,
                          const std::vector<CounterCheck>& counter_checks = {});

// --results FILE for a run skipped before it booted (requirements.h): stop
// reason host-lacks-feature, `why` its message, exit code 77.
absl::Status WriteSkippedResults(const std::string& path, const RunOptions& o,
                                 const std::string& why);

}  // namespace tlbscope
