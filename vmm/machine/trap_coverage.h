#pragma once

#include <string>
#include <vector>

#include "vmm/machine/machine.h"

namespace tlbscope {

// The guest's own count of its TLB instructions on one vCPU against what
// tlbscope trapped there (boot-time sites excluded, as the guest excludes them).
struct CoverageRow {
  int vcpu;
  GuestTlbCounts guest;
  GuestTlbCounts trapped;
  bool matches() const { return guest == trapped; }
};

// One row per vCPU the guest reported TLB_COUNTS for; empty when it sent none.
std::vector<CoverageRow> CompareTrapCoverage(const TrapSummary& traps, const GuestReport& report);

// vCPUs whose trapped counts disagree with the guest's own or with their
// step window: tlbscope missed (or invented) TLB instructions.
int CountCoverageFailures(const TrapSummary& traps, const GuestReport& report);

}  // namespace tlbscope
