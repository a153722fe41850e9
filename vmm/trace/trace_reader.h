#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope {

inline constexpr uint32_t kTraceSchemaVersion = 1;

struct TraceSummary {
  v1::TraceHeader header;
  std::optional<v1::TraceEnd> end;  // absent: the trace was cut short
  uint64_t events = 0;
};

// Reads a trace file, calling `on_event` for each event in order. Errors
// are InvalidArgument and name the file and what is wrong: not a trace,
// unknown schema version, a record cut off at byte N.
absl::StatusOr<TraceSummary> ReadTrace(const std::string& path,
                                       const std::function<void(const v1::Event&)>& on_event);

}  // namespace tlbscope
