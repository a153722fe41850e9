#include "regress/report.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"
#include "version/version.h"

namespace tlbscope::regress {
namespace {

std::string ThisHost() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

v1::RunReport ToReport(const RunVerdict& v, uint32_t position) {
  v1::RunReport r;
  r.set_name(v.spec.name);
  r.set_suite_position(position);
  r.set_passed(v.passed);
  r.set_error(v.error);
  r.set_problem(v.problem);
  r.set_reason(v.reason);
  r.set_expect_clean(v.spec.expect_clean);
  for (const std::string& e : v.spec.expect_violations) r.add_expect_violations(e);
  r.set_observed(v.observed_text);
  r.set_exit_status(v.exit_status);
  r.set_stop_reason(v.stop_reason);
  r.set_stop_message(v.stop_message);
  for (const std::string& c : v.failed_checks) r.add_failed_checks(c);
  for (const auto& [k, n] : v.violations) (*r.mutable_violations())[k] = n;
  r.set_first_violation(v.first_violation);
  r.set_seconds(v.seconds);
  r.set_started_unix(v.started_unix);
  r.set_out_dir(v.out_dir);
  r.set_trace_path(v.trace_path);
  r.set_serial_path(v.serial_path);
  r.set_log_path(v.log_path);
  *r.mutable_measured() = v.measured;
  return r;
}

}  // namespace

v1::RegressReport MakeReport(const std::string& suite, const Shard& shard,
                             const std::vector<RunSpec>& whole,
                             const std::vector<RunVerdict>& verdicts) {
  std::map<std::string, uint32_t> position;
  for (size_t i = 0; i < whole.size(); ++i) position[whole[i].name] = static_cast<uint32_t>(i);
  v1::RegressReport r;
  r.set_suite(suite);
  r.set_hostname(ThisHost());
  r.set_shard_index(shard.index);
  r.set_shard_total(shard.total);
  r.set_suite_runs(static_cast<uint32_t>(whole.size()));
  r.set_tlbscope_version(std::string(ReleaseVersion()) + " " + GitRevision());
  for (const RunVerdict& v : verdicts) *r.add_runs() = ToReport(v, position[v.spec.name]);
  return r;
}

absl::Status WriteReport(const std::string& path, const v1::RegressReport& r) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opt;
  opt.add_whitespace = true;
  opt.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(r, &json, opt).ok()) {
    return absl::InternalError("report: cannot encode");
  }
  std::ofstream f(path);
  f << json;
  if (!f) return absl::InvalidArgumentError(absl::StrFormat("report %s: cannot write", path));
  return absl::OkStatus();
}

absl::StatusOr<v1::RegressReport> ReadReport(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::InvalidArgumentError(absl::StrFormat("%s: cannot read", path));
  std::stringstream text;
  text << f.rdbuf();
  v1::RegressReport r;
  auto s = google::protobuf::util::JsonStringToMessage(text.str(), &r);
  if (!s.ok()) {
    std::string why(s.message());
    return absl::InvalidArgumentError(absl::StrFormat("%s: not a tlbscope regress report: %s", path,
                                                      why.substr(0, why.find('\n'))));
  }
  if (r.shard_total() < 1 || r.shard_index() < 1 || r.shard_index() > r.shard_total()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: shard %d/%d is not a shard", path, r.shard_index(), r.shard_total()));
  }
  return r;
}

RunVerdict FromReport(const v1::RunReport& r) {
  RunVerdict v;
  v.spec.name = r.name();
  v.spec.expect_clean = r.expect_clean();
  v.spec.expect_violations = {r.expect_violations().begin(), r.expect_violations().end()};
  v.passed = r.passed();
  v.error = r.error();
  v.problem = r.problem();
  v.reason = r.reason();
  v.observed_text = r.observed();
  v.exit_status = r.exit_status();
  v.stop_reason = r.stop_reason();
  v.stop_message = r.stop_message();
  v.failed_checks = {r.failed_checks().begin(), r.failed_checks().end()};
  for (const auto& [k, n] : r.violations()) v.violations[k] = n;
  v.first_violation = r.first_violation();
  v.seconds = r.seconds();
  v.started_unix = r.started_unix();
  v.out_dir = r.out_dir();
  v.trace_path = r.trace_path();
  v.serial_path = r.serial_path();
  v.log_path = r.log_path();
  v.measured = r.measured();
  return v;
}

absl::StatusOr<Merged> MergeReports(const std::vector<std::string>& paths,
                                    const std::vector<v1::RegressReport>& reports) {
  if (reports.empty()) return absl::InvalidArgumentError("no shard outputs given");
  const v1::RegressReport& first = reports[0];
  std::map<uint32_t, std::string> shard_from;
  std::map<std::string, std::string> run_from;
  std::vector<std::pair<uint32_t, RunVerdict>> runs;
  Merged m;
  m.suite = first.suite();
  m.hostnames.resize(first.shard_total());
  for (size_t i = 0; i < reports.size(); ++i) {
    const v1::RegressReport& r = reports[i];
    const std::string& p = paths[i];
    if (r.suite() != first.suite() || r.shard_total() != first.shard_total() ||
        r.suite_runs() != first.suite_runs()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: suite %s in %d shards (%d runs), but %s has suite %s in %d shards (%d runs)", p,
          r.suite(), r.shard_total(), r.suite_runs(), paths[0], first.suite(), first.shard_total(),
          first.suite_runs()));
    }
    if (auto [it, fresh] = shard_from.emplace(r.shard_index(), p); !fresh) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: shard %d/%d again (also in %s)", p, r.shard_index(), r.shard_total(), it->second));
    }
    m.hostnames[r.shard_index() - 1] = r.hostname();
    for (const v1::RunReport& run : r.runs()) {
      if (auto [it, fresh] = run_from.emplace(run.name(), p); !fresh) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: run '%s' again (also in %s)", p, run.name(), it->second));
      }
      runs.emplace_back(run.suite_position(), FromReport(run));
    }
  }
  for (uint32_t k = 1; k <= first.shard_total(); ++k) {
    if (!shard_from.contains(k)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("shard %d/%d is missing (suite %s)", k, first.shard_total(), m.suite));
    }
  }
  if (runs.size() != first.suite_runs()) {
    return absl::InvalidArgumentError(absl::StrFormat("the shards hold %d runs, suite %s has %d",
                                                      runs.size(), m.suite, first.suite_runs()));
  }
  std::stable_sort(runs.begin(), runs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [pos, v] : runs) m.runs.push_back(std::move(v));
  return m;
}

}  // namespace tlbscope::regress
