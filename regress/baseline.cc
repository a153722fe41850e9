#include "regress/baseline.h"

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/output_file.h"
#include "google/protobuf/util/json_util.h"

namespace tlbscope::regress {

absl::StatusOr<v1::RegressBaseline> ReadBaseline(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::InvalidArgumentError(absl::StrFormat("--baseline %s: cannot read", path));
  std::stringstream text;
  text << f.rdbuf();
  v1::RegressBaseline b;
  auto s = google::protobuf::util::JsonStringToMessage(text.str(), &b);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--baseline %s: not a baseline: %s", path, std::string(s.message())));
  }
  return b;
}

absl::Status WriteBaseline(const std::string& path, const std::string& suite,
                           const std::vector<RunVerdict>& runs) {
  v1::RegressBaseline b;
  b.set_suite(suite);
  for (const RunVerdict& v : runs) {
    if (v.measured.name().empty()) continue;  // not judged: nothing measured
    *b.add_runs() = v.measured;
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions opt;
  opt.add_whitespace = true;
  opt.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(b, &json, opt).ok()) {
    return absl::InternalError("baseline: cannot encode");
  }
  return WriteFileAtomically("--write-baseline", path, json);
}

int CompareToBaseline(const v1::RegressBaseline& base, const Tolerance& tol,
                      std::vector<RunVerdict>* runs) {
  std::map<std::string, const v1::RunBaseline*> by_name;
  for (const v1::RunBaseline& r : base.runs()) by_name[r.name()] = &r;
  int regressed = 0;
  for (RunVerdict& v : *runs) {
    auto it = by_name.find(v.spec.name);
    if (it == by_name.end() || v.measured.name().empty()) continue;
    const v1::RunBaseline& b = *it->second;
    std::vector<std::string> changes;
    std::set<std::string> kinds;
    for (const auto& [k, n] : b.counts()) kinds.insert(k);
    for (const auto& [k, n] : v.measured.counts()) kinds.insert(k);
    for (const std::string& k : kinds) {
      double was = b.counts().contains(k) ? static_cast<double>(b.counts().at(k)) : 0;
      double now =
          v.measured.counts().contains(k) ? static_cast<double>(v.measured.counts().at(k)) : 0;
      if (std::fabs(now - was) <= was * tol.counts + static_cast<double>(tol.slack)) continue;
      changes.push_back(absl::StrFormat("%s %g -> %g (%+.0f%%)", k, was, now,
                                        was > 0 ? 100 * (now - was) / was : 100.0));
    }
    auto latency = [&](const char* what, uint64_t was, uint64_t now) {
      if (now <= tol.latency_floor_ns || now <= was * (1 + tol.latency)) return;
      changes.push_back(absl::StrFormat("shootdown %s %d -> %d ns", what, was, now));
    };
    latency("p50", b.ack_latency_p50_ns(), v.measured.ack_latency_p50_ns());
    latency("p90", b.ack_latency_p90_ns(), v.measured.ack_latency_p90_ns());
    latency("p99", b.ack_latency_p99_ns(), v.measured.ack_latency_p99_ns());
    if (changes.empty()) continue;
    ++regressed;
    std::string what = "beyond the baseline: " + absl::StrJoin(changes, ", ");
    v.reason = v.passed ? what : v.reason + "; " + what;
    if (v.passed) v.problem = "baseline";
    v.passed = false;
  }
  return regressed;
}

}  // namespace tlbscope::regress
