#include "collectors/trace_decoder.h"

#include "collectors/wire_decode.h"

namespace tlbscope::collect {

absl::StatusOr<TraceFileInfo> DecodeTraceFile(
    const std::string& path, const std::function<void(const v1::TraceHeader&)>& on_header,
    const std::function<void(const CEvent&)>& on_event) {
  CEvent e;
  auto decode = [&e](const uint8_t* p, size_t n) -> std::optional<uint64_t> {
    if (!DecodeEvent(p, n, &e)) return std::nullopt;
    return e.seq;
  };
  auto deliver = [&] {
    if (on_event) on_event(e);
  };
  auto header = [&](const v1::TraceHeader& h) {
    if (on_header) on_header(h);
  };
  return tracefile::ScanTrace(path, header, {decode, deliver});
}

}  // namespace tlbscope::collect
