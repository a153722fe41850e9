#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "regress/suite.h"
#include "tlbscope/v1/regress.pb.h"

namespace tlbscope::regress {

// What one run produced and whether it matched its expectation.
struct RunVerdict {
  RunSpec spec;
  std::string out_dir, trace_path, serial_path, log_path;
  bool passed = false;
  // A run that did not pass either could not be judged (`error`: bad input,
  // a host failure, tlbscope itself crashed or hung, a timeout, a trace it
  // cannot read; JUnit <error>) or got a wrong verdict (a guest crash, other
  // invariants than expected, failed guest checks, beyond the baseline;
  // JUnit <failure>). `problem` names the kind, e.g. "timeout".
  bool error = false;
  // Neither: `tlbscope run` skipped it before it booted (exit 77), the host
  // lacking a feature the run requires; `reason` says which. It does not
  // fail the suite (JUnit <skipped>).
  bool skipped = false;
  std::string problem;
  std::string reason;         // one line: why it failed (empty when it passed)
  std::string observed_text;  // "clean" or "a, b"
  int exit_status = -1;       // tlbscope's
  std::string stop_reason, stop_message;
  std::vector<std::string> failed_checks;      // the guest's own
  std::map<std::string, uint64_t> violations;  // invariant -> count
  std::string first_violation;                 // the first report, for the failure text
  double seconds = 0;
  int64_t started_unix = 0;  // wall clock at the start (JUnit timestamp)
  v1::RunBaseline measured;  // counts and latencies (for --baseline)
};

// Whether the run fails the suite: neither passed nor skipped.
inline bool Failed(const RunVerdict& v) { return !v.passed && !v.skipped; }

// "ok", "skip", "ERROR" or "FAIL".
const char* ResultWord(const RunVerdict& v);

// The expected verdict in words: "clean" or "a, b".
std::string ExpectedText(const RunSpec& r);

// Judges a finished run from its results JSON and its trace: a run that
// did not end by the guest's own exit (crash, hang, timeout, host error)
// fails with that reason; otherwise the collectors' violations must be
// exactly the expected ones, and a clean run's guest checks must pass.
void Judge(RunVerdict* v);

// Whether a run that stopped for `stop_reason` (tlbscope.v1.RunResult)
// could still be judged: the guest's own stops (exit, crash, assert) can,
// tlbscope's (timeout, interrupted, KVM or host errors) cannot.
bool StopIsTheGuests(const std::string& stop_reason);

}  // namespace tlbscope::regress
