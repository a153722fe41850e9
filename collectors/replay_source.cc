#include "collectors/replay_source.h"

#include "absl/strings/str_format.h"
#include "collectors/trace_decoder.h"

namespace tlbscope::collect {

absl::Status Replay(const std::string& path, Collector& c) {
  absl::StatusOr<TraceFileInfo> info = DecodeTraceFile(
      path, [&c](const v1::TraceHeader& h) { c.SetHeader(h); },
      [&c](const CEvent& e) { c.Observe(e); });
  if (!info.ok()) {
    c.Finish(false);
    return info.status();
  }
  if (info->end) c.SetEnd(*info->end);
  c.Finish(info->end.has_value());
  if (!info->end) {
    return absl::DataLossError(absl::StrFormat(
        "trace %s has no end record: it was cut short after %d events", path, info->events));
  }
  return absl::OkStatus();
}

}  // namespace tlbscope::collect
