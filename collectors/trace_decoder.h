#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "collectors/event.h"
#include "tlbscope/v1/trace.pb.h"
#include "tracefile/trace_file.h"

namespace tlbscope::collect {

using TraceFileInfo = tracefile::TraceSummary;

// Reads a trace file through the shared reader (tracefile/trace_file.h:
// its checks and messages), decoding events straight into CEvents
// (wire_decode.h) at replay speed. Events before an error have been
// delivered when it is returned.
absl::StatusOr<TraceFileInfo> DecodeTraceFile(
    const std::string& path, const std::function<void(const v1::TraceHeader&)>& on_header,
    const std::function<void(const CEvent&)>& on_event);

}  // namespace tlbscope::collect
