#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/status_line.h"
#include "regress/suite.h"
#include "regress/verdict.h"

namespace tlbscope::regress {

struct RunnerOptions {
  std::string tlbscope;          // the binary to run (`tlbscope run ...`)
  std::string default_kernel;    // for runs that name none
  std::string out_dir;           // one folder per run: trace, serial log, results, log
  int jobs = 1;                  // runs at once
  bool progress = true;          // a line on stderr as each run finishes
  StatusLine* status = nullptr;  // and a status line (done/running/left), when on a terminal
  double kill_grace_s = 60;      // a run alive this long past its timeout is killed
};

// Resolves each run's domain XML into its VM (vcpu, memory, os/kernel,
// os/initrd, os/cmdline) and relative paths against the suite's folder.
// A bad domain is an error naming the run.
absl::Status ResolveSuite(Suite* suite);

// The tlbscope arguments for one run (after "run").
std::vector<std::string> RunArgs(const RunSpec& r, const RunnerOptions& o, const std::string& dir);

// Runs every run (at most o.jobs at once), each as its own tlbscope
// process, and judges it. A run still alive kill_grace_s past its timeout
// is killed and fails as hung. Verdicts come back in suite order.
std::vector<RunVerdict> RunSuite(const Suite& suite, const RunnerOptions& o);

}  // namespace tlbscope::regress
