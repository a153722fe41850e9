#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "regress/verdict.h"

namespace tlbscope::regress {

// The <testsuite>'s own attributes.
struct JunitSuite {
  std::string name;
  std::string hostname;   // empty: this host's name
  int64_t timestamp = 0;  // Unix seconds; 0: the earliest run's start (or now)
  std::vector<std::pair<std::string, std::string>> properties;  // <properties>
};

// JUnit XML as CI systems read it (docs/schema/junit.xsd, modelled on
// Jenkins' junit-4.xsd): one <testsuite> with timestamp (UTC) and hostname,
// one <testcase> per run with its time; a run that could not be judged has
// an <error>, a wrong verdict a <failure>, each with a type, a message
// naming expected and observed verdict and the trace, and the details.
// Text is made XML-safe (control characters and bad UTF-8 become U+FFFD).
absl::Status WriteJunit(const std::string& path, const JunitSuite& suite,
                        const std::vector<RunVerdict>& runs);
absl::Status WriteJunit(const std::string& path, const std::string& suite,
                        const std::vector<RunVerdict>& runs);

// The human table: one line per run, then the totals.
std::string SummaryTable(const std::vector<RunVerdict>& runs);

}  // namespace tlbscope::regress
