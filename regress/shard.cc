#include "regress/shard.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace tlbscope::regress {
namespace {

constexpr int kMaxShards = 1000;

absl::StatusOr<int> EnvInt(const EnvFn& env, const char* name, int lo, int hi) {
  const char* v = env(name);
  int n = 0;
  if (v == nullptr || !absl::SimpleAtoi(v, &n) || n < lo || n > hi) {
    return absl::InvalidArgumentError(absl::StrFormat("%s=%s: must be an integer from %d to %d",
                                                      name, v == nullptr ? "(unset)" : v, lo, hi));
  }
  return n;
}

// Expected milliseconds per run (integers: the same deal on every machine).
std::vector<int64_t> Weights(const std::vector<RunSpec>& runs, const v1::RegressBaseline* base) {
  std::map<std::string, int64_t> known;
  if (base != nullptr) {
    for (const v1::RunBaseline& r : base->runs()) {
      if (r.seconds() > 0) known[r.name()] = std::llround(r.seconds() * 1000);
    }
  }
  int64_t fallback = 1000;
  if (!known.empty()) {
    std::vector<int64_t> ms;
    for (const auto& [name, w] : known) ms.push_back(w);
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    fallback = std::max<int64_t>(1, ms[ms.size() / 2]);
  }
  std::vector<int64_t> w;
  for (const RunSpec& r : runs) {
    auto it = known.find(r.name);
    w.push_back(it == known.end() ? fallback : std::max<int64_t>(1, it->second));
  }
  return w;
}

}  // namespace

absl::StatusOr<Shard> ParseShard(const std::string& text) {
  size_t slash = text.find('/');
  Shard s{0, 0, "--shard"};
  if (slash == std::string::npos || !absl::SimpleAtoi(text.substr(0, slash), &s.index) ||
      !absl::SimpleAtoi(text.substr(slash + 1), &s.total) || s.total < 1 || s.total > kMaxShards ||
      s.index < 1 || s.index > s.total) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--shard %s: must be K/N with 1 <= K <= N <= %d (e.g. 2/3)", text, kMaxShards));
  }
  return s;
}

absl::StatusOr<std::optional<Shard>> ShardFromEnv(const EnvFn& env, int total_flag) {
  if (env("CI_NODE_INDEX") != nullptr) {
    absl::StatusOr<int> total = EnvInt(env, "CI_NODE_TOTAL", 1, kMaxShards);
    if (!total.ok()) return total.status();
    absl::StatusOr<int> index = EnvInt(env, "CI_NODE_INDEX", 1, *total);
    if (!index.ok()) return index.status();
    return Shard{*index, *total, "CI_NODE_INDEX/CI_NODE_TOTAL"};
  }
  if (env("JOB_COMPLETION_INDEX") != nullptr) {
    int total = total_flag;
    std::string from = "--shard-total";
    if (total == 0) {
      if (env("TLBSCOPE_SHARD_TOTAL") == nullptr) {
        return absl::InvalidArgumentError(
            "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not the number of "
            "shards: give --shard-total N or TLBSCOPE_SHARD_TOTAL (the Job's completions)");
      }
      absl::StatusOr<int> t = EnvInt(env, "TLBSCOPE_SHARD_TOTAL", 1, kMaxShards);
      if (!t.ok()) return t.status();
      total = *t;
      from = "TLBSCOPE_SHARD_TOTAL";
    }
    absl::StatusOr<int> index = EnvInt(env, "JOB_COMPLETION_INDEX", 0, total - 1);
    if (!index.ok()) return index.status();
    return Shard{*index + 1, total, "JOB_COMPLETION_INDEX/" + from};
  }
  if (total_flag != 0) {
    return absl::InvalidArgumentError("--shard-total needs JOB_COMPLETION_INDEX (or use --shard)");
  }
  return std::nullopt;
}

std::vector<int> AssignShards(const std::vector<RunSpec>& runs, int total,
                              const v1::RegressBaseline* base) {
  std::vector<int64_t> w = Weights(runs, base);
  std::vector<size_t> order(runs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return w[a] > w[b]; });
  std::vector<int64_t> load(static_cast<size_t>(std::max(1, total)), 0);
  std::vector<int> shard_of(runs.size(), 0);
  for (size_t i : order) {
    size_t least = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    shard_of[i] = static_cast<int>(least);
    load[least] += w[i];
  }
  return shard_of;
}

std::vector<RunSpec> SelectShard(const std::vector<RunSpec>& runs, const Shard& s,
                                 const v1::RegressBaseline* base) {
  std::vector<int> shard_of = AssignShards(runs, s.total, base);
  std::vector<RunSpec> mine;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (shard_of[i] == s.index - 1) mine.push_back(runs[i]);
  }
  return mine;
}

}  // namespace tlbscope::regress
