#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "regress/shard.h"
#include "regress/suite.h"
#include "regress/verdict.h"
#include "tlbscope/v1/regress.pb.h"

namespace tlbscope::regress {

// OUT/report.json: what this `tlbscope regress` ran (one shard or all of
// `whole`, the suite after --only), for `regress merge`.
v1::RegressReport MakeReport(const std::string& suite, const Shard& shard,
                             const std::vector<RunSpec>& whole,
                             const std::vector<RunVerdict>& verdicts);
absl::Status WriteReport(const std::string& path, const v1::RegressReport& r);
absl::StatusOr<v1::RegressReport> ReadReport(const std::string& path);

// The verdict back from its report (for the JUnit case, summary, baseline).
RunVerdict FromReport(const v1::RunReport& r);

// The shards' reports as one: every shard 1..N of the same suite exactly
// once, no run twice, every run of the suite present; runs in suite order.
// Errors name the report and what is wrong.
struct Merged {
  std::string suite;
  std::vector<RunVerdict> runs;
  std::vector<std::string> hostnames;  // per shard, in shard order
};
absl::StatusOr<Merged> MergeReports(const std::vector<std::string>& paths,
                                    const std::vector<v1::RegressReport>& reports);

}  // namespace tlbscope::regress
