#pragma once

#include <string>

#include "collectors/collector.h"

namespace tlbscope::collect {

// The human summary: per-vCPU state and counts, per-mm state, statistics,
// the verdict. Every line starts with `prefix` ("tlbcollect: ").
std::string FormatSummary(const Collector& c, const std::string& prefix);

// One line for the live view: events so far and each vCPU's mm, gen, lazy flag.
std::string FormatStatusLine(const Collector& c);

// "VIOLATION <invariant>: ..." as printed when found.
std::string FormatViolationLine(const Violation& v, const std::string& prefix);

}  // namespace tlbscope::collect
