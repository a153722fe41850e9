#include "vmm/core/trap_coverage.h"

namespace tlbscope {

GuestTlbCounts CountEvents(const std::vector<TrapEvent>& events, bool include_boot) {
  GuestTlbCounts c;
  for (const TrapEvent& e : events) {
    if (!include_boot && e.site_class == SiteClass::kBoot) continue;
    CountInsn(c, e.kind);
  }
  return c;
}

std::vector<CoverageRow> CompareTrapCoverage(const TrapSummary& traps, const GuestReport& report) {
  std::vector<CoverageRow> rows;
  for (const auto& [cpu, counts] : report.tlb_counts) {
    CoverageRow row{cpu, counts, {}};
    if (cpu >= 0 && cpu < static_cast<int>(traps.events.size())) {
      row.trapped = CountEvents(traps.events[cpu], /*include_boot=*/false);
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
