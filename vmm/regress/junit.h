#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vmm/regress/verdict.h"

namespace tlbscope::regress {

// JUnit XML (the Jenkins / GitLab / GitHub schema): one <testsuite> named
// after the suite, one <testcase> per run; a failed run has a <failure>
// whose message names the expected and observed verdict and the trace.
absl::Status WriteJunit(const std::string& path, const std::string& suite,
                        const std::vector<RunVerdict>& runs);

// The human table: one line per run, then the totals.
std::string SummaryTable(const std::vector<RunVerdict>& runs);

}  // namespace tlbscope::regress
