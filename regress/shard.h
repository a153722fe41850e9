#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "regress/suite.h"
#include "tlbscope/v1/regress.pb.h"

namespace tlbscope::regress {

// One of N parts of a suite, 1-based.
struct Shard {
  int index = 1;
  int total = 1;
  std::string source;  // where it came from: "--shard", "CI_NODE_INDEX/CI_NODE_TOTAL", ...
};

// "K/N" with 1 <= K <= N <= 1000.
absl::StatusOr<Shard> ParseShard(const std::string& text);

// The shard the CI engine asks for, when --shard is not given:
// GitLab CI's parallel jobs (CI_NODE_INDEX, 1-based, and CI_NODE_TOTAL), or
// a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, 0-based) with the count
// from `total_flag` (--shard-total, 0: not given) or TLBSCOPE_SHARD_TOTAL.
// nullopt when neither is set. Bad values are errors naming the variable.
using EnvFn = std::function<const char*(const char*)>;
absl::StatusOr<std::optional<Shard>> ShardFromEnv(const EnvFn& env, int total_flag);

// The runs of shard `s`, in suite order. Deterministic: runs are dealt,
// longest expected time first (ties: suite order), each to the shard with
// the least expected time so far (ties: the lowest). The expected time of
// a run is its `seconds` in `base` when there is one; runs it does not
// know count as the median of those it does; without a baseline every run
// counts the same (a deal in suite order).
std::vector<RunSpec> SelectShard(const std::vector<RunSpec>& runs, const Shard& s,
                                 const v1::RegressBaseline* base);

// Which shard (0-based) each run goes to, in suite order.
std::vector<int> AssignShards(const std::vector<RunSpec>& runs, int total,
                              const v1::RegressBaseline* base);

}  // namespace tlbscope::regress
