#include "regress/verdict.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "collectors/collector.h"
#include "collectors/replay_source.h"
#include "common/cpu_features.h"
#include "google/protobuf/util/json_util.h"
#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope::regress {
namespace {

std::string SetText(const std::set<std::string>& s) {
  return s.empty() ? "clean" : absl::StrJoin(s, ", ");
}

std::string LastLine(const std::string& path) {
  std::ifstream f(path);
  std::string line, last;
  while (std::getline(f, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// Sets an unjudged run's reason and kind.
void Unjudged(RunVerdict* v, const std::string& problem, const std::string& reason) {
  v->error = true;
  v->problem = problem;
  v->reason = reason;
}

// The run's own in-process collector saw the same stream as the replay: it
// must have found the same invariants (false, with the problem set, if not).
bool InProcessAgrees(const v1::RunResult& result, const std::set<std::string>& observed,
                     RunVerdict* v) {
  if (!result.has_collector()) return true;
  std::set<std::string> in_process;
  for (const auto& [name, n] : result.collector().per_invariant()) {
    if (n != 0) in_process.insert(name);
  }
  if (in_process == observed) return true;
  v->problem = "verdicts-differ";
  v->reason = absl::StrFormat("the run's collector found %s, the replay of its trace %s",
                              SetText(in_process), SetText(observed));
  return false;
}

// Counts and latencies of the run (for --baseline).
void Measure(const collect::Collector& c, RunVerdict* v) {
  for (int k = 0; k < collect::kMaxKind; ++k) {
    uint64_t n = c.stats().per_kind[k];
    if (n) (*v->measured.mutable_counts())[collect::KindName(static_cast<collect::Kind>(k))] = n;
  }
  v->measured.set_name(v->spec.name);
  v->measured.set_flush_requests(c.stats().requests);
  v->measured.set_ack_latency_p50_ns(c.stats().ack_latency_ns.Quantile(0.5));
  v->measured.set_ack_latency_p90_ns(c.stats().ack_latency_ns.Quantile(0.9));
  v->measured.set_ack_latency_p99_ns(c.stats().ack_latency_ns.Quantile(0.99));
}

}  // namespace

bool StopIsTheGuests(const std::string& r) {
  return r == "guest-exit" || r == "guest-assert" || r == "guest-exception" || r == "guest-panic" ||
         r == "triple-fault" || r == "bad-probe-message" || r == "unknown-port" ||
         r == "system-event";
}

const char* ResultWord(const RunVerdict& v) {
  if (v.passed) return "ok";
  if (v.skipped) return "skip";
  return v.error ? "ERROR" : "FAIL";
}

std::string ExpectedText(const RunSpec& r) {
  return r.expect_clean ? "clean" : SetText(r.expect_violations);
}

void Judge(RunVerdict* v) {
  std::string results_path = v->out_dir + "/results.json";
  std::ifstream f(results_path);
  std::stringstream json;
  json << f.rdbuf();
  v1::RunResult result;
  if (!f || !google::protobuf::util::JsonStringToMessage(json.str(), &result).ok()) {
    std::string last = LastLine(v->log_path);
    Unjudged(v, v->exit_status < 0 ? "tlbscope-crashed" : "no-results",
             absl::StrFormat("tlbscope exited with status %d and wrote no results%s%s",
                             v->exit_status, last.empty() ? "" : ": ", last));
    return;
  }
  v->stop_reason = result.stop_reason();
  v->stop_message = result.stop_message();
  if (v->exit_status == kExitSkipped && result.stop_reason() == kStopHostLacksFeature) {
    v->skipped = true;
    v->problem = kStopHostLacksFeature;
    v->reason = "skipped: " + result.stop_message();
    return;
  }
  for (const v1::GuestCheck& c : result.checks()) {
    if (!c.passed()) v->failed_checks.push_back(c.name());
  }
  if (result.stop_reason() != "guest-exit") {
    std::string why = absl::StrFormat("the run ended by %s, not by the guest: %s",
                                      result.stop_reason(), result.stop_message());
    if (StopIsTheGuests(result.stop_reason())) {
      v->problem = result.stop_reason();
      v->reason = why;
    } else {
      Unjudged(v, result.stop_reason(), why);
    }
    return;
  }
  // 0: passed; 1: a guest check failed; 8: the in-process collector found
  // violations (judged below from the trace, like every run).
  if (v->exit_status != 0 && v->exit_status != 1 && v->exit_status != 8) {
    Unjudged(v, absl::StrFormat("tlbscope-exit-%d", v->exit_status),
             absl::StrFormat("tlbscope exited with status %d: %s", v->exit_status,
                             result.stop_message()));
    return;
  }

  // The same replay as `tlbcollect replay`. A trace without its end record
  // (DataLoss) is still judged on everything it holds.
  collect::Collector c;
  absl::Status replayed = collect::Replay(v->trace_path, c);
  if (!replayed.ok() && replayed.code() != absl::StatusCode::kDataLoss) {
    Unjudged(v, "trace", "trace: " + std::string(replayed.message()));
    return;
  }
  std::set<std::string> observed;
  for (const auto& [name, n] : c.per_invariant()) {
    if (n == 0) continue;
    observed.insert(name);
    v->violations[name] = n;
  }
  if (!c.violations().empty())
    v->first_violation = collect::FormatViolation(c.violations().front());
  v->observed_text = SetText(observed);
  if (!InProcessAgrees(result, observed, v)) return;
  Measure(c, v);

  const RunSpec& r = v->spec;
  std::set<std::string> expected = r.expect_clean ? std::set<std::string>{} : r.expect_violations;
  if (observed != expected) {
    v->problem = "wrong-verdict";
    v->reason = absl::StrFormat("expected %s, observed %s", ExpectedText(r), v->observed_text);
    return;
  }
  if (r.expect_clean && v->exit_status == 1) {
    v->problem = "guest-checks";
    v->reason = absl::StrFormat("expected clean, but guest checks failed: %s",
                                absl::StrJoin(v->failed_checks, ", "));
    return;
  }
  v->passed = true;
}

}  // namespace tlbscope::regress
