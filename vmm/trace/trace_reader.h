#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "tlbscope/v1/trace.pb.h"
#include "tracefile/trace_file.h"

namespace tlbscope {

inline constexpr uint32_t kTraceSchemaVersion = tracefile::kSchemaVersion;
using TraceSummary = tracefile::TraceSummary;

// Reads a trace file through the shared reader (tracefile/trace_file.h),
// calling `on_event` for each event in order. Errors are InvalidArgument
// and name the file and what is wrong: not a trace, unknown schema
// version, a record cut off at byte N.
absl::StatusOr<TraceSummary> ReadTrace(const std::string& path,
                                       const std::function<void(const v1::Event&)>& on_event);

}  // namespace tlbscope
