#include "vmm/machine/trap_coverage.h"

namespace tlbscope {

std::vector<CoverageRow> CompareTrapCoverage(const TrapSummary& traps, const GuestReport& report) {
  std::vector<CoverageRow> rows;
  for (const auto& [cpu, counts] : report.tlb_counts) {
    CoverageRow row{cpu, counts, {}};
    if (cpu >= 0 && cpu < static_cast<int>(traps.trapped_after_boot.size())) {
      row.trapped = traps.trapped_after_boot[cpu];
    }
    rows.push_back(row);
  }
  return rows;
}

int CountCoverageFailures(const TrapSummary& traps, const GuestReport& report) {
  if (!traps.enabled) return 0;  // --no-trap: nothing to compare
  int failures = 0;
  for (const CoverageRow& row : CompareTrapCoverage(traps, report)) failures += !row.matches();
  for (const auto& w : traps.windows) failures += w && !(w->seen == w->trapped);
  return failures;
}

}  // namespace tlbscope
