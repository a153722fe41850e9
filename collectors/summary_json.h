#pragma once

#include <string>

#include "absl/status/status.h"
#include "collectors/collector.h"

namespace tlbscope::collect {

struct SourceInfo {
  std::string source;       // "replay FILE", "live ADDR", "tlbscope run"
  std::string input_error;  // why the stream ended early, empty if it did not
};

// The machine-readable summary (--json FILE): verdict, violations, the
// rebuilt per-vCPU and per-mm state, statistics. Schema in collectors/README.md.
std::string SummaryJson(const Collector& c, const SourceInfo& info);

// Writes `text` to `path` (via a temporary file and rename). Errors name the path.
absl::Status WriteTextFile(const std::string& path, const std::string& text);

}  // namespace tlbscope::collect
