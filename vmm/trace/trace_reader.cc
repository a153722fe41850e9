#include "vmm/trace/trace_reader.h"

namespace tlbscope {

absl::StatusOr<TraceSummary> ReadTrace(const std::string& path,
                                       const std::function<void(const v1::Event&)>& on_event) {
  v1::Event e;
  auto decode = [&e](const uint8_t* p, size_t n) -> std::optional<uint64_t> {
    if (!e.ParseFromArray(p, static_cast<int>(n))) return std::nullopt;
    return e.sequence();
  };
  auto deliver = [&] {
    if (on_event) on_event(e);
  };
  return tracefile::ScanTrace(path, [](const v1::TraceHeader&) {}, {decode, deliver});
}

}  // namespace tlbscope
