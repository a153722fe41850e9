#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "regress/verdict.h"
#include "tlbscope/v1/regress.pb.h"

namespace tlbscope::regress {

struct Tolerance {
  double counts = 0.25;                // relative change allowed per event kind
  uint64_t slack = 4;                  // plus this many events (small counts jitter)
  double latency = 3.0;                // relative increase allowed for p50/p90/p99 (noisy hosts)
  uint64_t latency_floor_ns = 100000;  // latencies below this are never a regression
};

absl::StatusOr<v1::RegressBaseline> ReadBaseline(const std::string& path);
absl::Status WriteBaseline(const std::string& path, const std::string& suite,
                           const std::vector<RunVerdict>& runs);

// Compares each run's measured counts and latencies with the baseline's
// run of the same name; every change beyond the tolerance fails that run
// (its reason lists them). Runs the baseline does not have are left alone.
// Returns how many runs regressed.
int CompareToBaseline(const v1::RegressBaseline& base, const Tolerance& tol,
                      std::vector<RunVerdict>* runs);

}  // namespace tlbscope::regress
