#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "collectors/event.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope::collect {

struct TraceFileInfo {
  v1::TraceHeader header;
  std::optional<v1::TraceEnd> end;  // absent: the trace was cut short
  uint64_t events = 0;
};

// Reads a trace file (length-delimited TraceRecords, docs/stream.md) with a
// fixed-size buffer, decoding events straight into CEvents (wire_decode.h):
// the same checks and messages as tlbscope's ReadTrace (not a trace,
// schema version, record N at byte B truncated or corrupt, sequence gaps,
// events after the end), at replay speed. Events before an error have been
// delivered when it is returned.
absl::StatusOr<TraceFileInfo> DecodeTraceFile(
    const std::string& path, const std::function<void(const v1::TraceHeader&)>& on_header,
    const std::function<void(const CEvent&)>& on_event);

}  // namespace tlbscope::collect
