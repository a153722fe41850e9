#pragma once

// The one reader of trace files (length-delimited TraceRecords,
// docs/stream.md): `tlbscope trace-info`, the gRPC service's resume from
// the record file, the collectors' replay and regress all read through it,
// so a trace is accepted or refused the same way, with the same message,
// everywhere. It reads with a fixed buffer and hands each event's bytes to
// the caller, who decodes them its own way (a v1::Event, or the
// collectors' CEvent at replay speed).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope::tracefile {

inline constexpr uint32_t kSchemaVersion = 1;
inline constexpr uint64_t kMaxRecordBytes = 64ull << 20;

struct TraceSummary {
  v1::TraceHeader header;
  std::optional<v1::TraceEnd> end;  // absent: the trace was cut short
  uint64_t events = 0;
};

// What the caller does with one event's serialized bytes: `decode` returns
// its sequence number (nullopt: the bytes are corrupt); `deliver` is called
// after the sequence was checked.
struct EventHandler {
  absl::FunctionRef<std::optional<uint64_t>(const uint8_t* bytes, size_t n)> decode;
  absl::FunctionRef<void()> deliver;
};

// Reads `path`: the header first (schema version checked), then events in
// sequence 0, 1, 2... and at most one end record. Errors are
// InvalidArgument, "trace PATH: what is wrong" (not a trace, schema
// version, record N at byte B truncated or corrupt, a sequence gap, an
// event after the end). Events before an error have been delivered.
absl::StatusOr<TraceSummary> ScanTrace(const std::string& path,
                                       absl::FunctionRef<void(const v1::TraceHeader&)> on_header,
                                       const EventHandler& on_event);

}  // namespace tlbscope::tracefile
