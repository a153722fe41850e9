#include "regress/report.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <utility>

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

// The fields a RunReport carries as a RunVerdict holds them, each named
// once with its report field: ToReport and FromReport copy them through
// protobuf's reflection, one direction each.
template <typename T>
using Fields = std::initializer_list<std::pair<const char*, T RunVerdict::*>>;
const Fields<std::string> kStrings = {
    {"problem", &RunVerdict::problem},           {"reason", &RunVerdict::reason},
    {"observed", &RunVerdict::observed_text},    {"stop_reason", &RunVerdict::stop_reason},
    {"stop_message", &RunVerdict::stop_message}, {"first_violation", &RunVerdict::first_violation},
    {"out_dir", &RunVerdict::out_dir},           {"trace_path", &RunVerdict::trace_path},
    {"serial_path", &RunVerdict::serial_path},   {"log_path", &RunVerdict::log_path}};
const Fields<bool> kBools = {{"passed", &RunVerdict::passed},
                             {"error", &RunVerdict::error},
                             {"skipped", &RunVerdict::skipped}};
const Fields<int> kInt32s = {{"exit_status", &RunVerdict::exit_status}};
const Fields<int64_t> kInt64s = {{"started_unix", &RunVerdict::started_unix}};
const Fields<double> kDoubles = {{"seconds", &RunVerdict::seconds}};

using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;

void Set(const Reflection& r, v1::RunReport* m, const FieldDescriptor* f, const std::string& x) {
  r.SetString(m, f, x);
}
void Set(const Reflection& r, v1::RunReport* m, const FieldDescriptor* f, bool x) {
  r.SetBool(m, f, x);
}
void Set(const Reflection& r, v1::RunReport* m, const FieldDescriptor* f, int x) {
  r.SetInt32(m, f, x);
}
void Set(const Reflection& r, v1::RunReport* m, const FieldDescriptor* f, int64_t x) {
  r.SetInt64(m, f, x);
}
void Set(const Reflection& r, v1::RunReport* m, const FieldDescriptor* f, double x) {
  r.SetDouble(m, f, x);
}
void Get(const Reflection& r, const v1::RunReport& m, const FieldDescriptor* f, std::string* x) {
  *x = r.GetString(m, f);
}
void Get(const Reflection& r, const v1::RunReport& m, const FieldDescriptor* f, bool* x) {
  *x = r.GetBool(m, f);
}
void Get(const Reflection& r, const v1::RunReport& m, const FieldDescriptor* f, int* x) {
  *x = r.GetInt32(m, f);
}
void Get(const Reflection& r, const v1::RunReport& m, const FieldDescriptor* f, int64_t* x) {
  *x = r.GetInt64(m, f);
}
void Get(const Reflection& r, const v1::RunReport& m, const FieldDescriptor* f, double* x) {
  *x = r.GetDouble(m, f);
}

// Copies `fields` from a verdict into its report, or back.
template <typename T>
void Copy(const Fields<T>& fields, const RunVerdict& v, v1::RunReport* to) {
  for (const auto& [name, member] : fields) {
    Set(*to->GetReflection(), to, to->GetDescriptor()->FindFieldByName(name), v.*member);
  }
}
template <typename T>
void Copy(const Fields<T>& fields, const v1::RunReport& from, RunVerdict* into) {
  for (const auto& [name, member] : fields) {
    Get(*from.GetReflection(), from, from.GetDescriptor()->FindFieldByName(name), &(into->*member));
  }
}

// Every field of the tables, in the direction the arguments say.
template <typename From, typename To>
void CopyAll(const From& from, To* to) {
  Copy(kStrings, from, to);
  Copy(kBools, from, to);
  Copy(kInt32s, from, to);
  Copy(kInt64s, from, to);
  Copy(kDoubles, from, to);
}

v1::RunReport ToReport(const RunVerdict& v, uint32_t position) {
  v1::RunReport r;
  CopyAll(v, &r);
  r.set_name(v.spec.name);
  r.set_suite_position(position);
  r.set_expect_clean(v.spec.expect_clean);
  for (const std::string& e : v.spec.expect_violations) r.add_expect_violations(e);
  for (const std::string& c : v.failed_checks) r.add_failed_checks(c);
  for (const auto& [k, n] : v.violations) (*r.mutable_violations())[k] = n;
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
  CopyAll(r, &v);
  v.spec.name = r.name();
  v.spec.expect_clean = r.expect_clean();
  v.spec.expect_violations = {r.expect_violations().begin(), r.expect_violations().end()};
  v.failed_checks = {r.failed_checks().begin(), r.failed_checks().end()};
  for (const auto& [k, n] : r.violations()) v.violations[k] = n;
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
