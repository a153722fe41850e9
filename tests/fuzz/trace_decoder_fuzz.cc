// The collector's trace decoder (collectors/trace_decoder.h) on arbitrary
// bytes, each decoded event fed to a Collector as `tlbcollect replay`
// does: a trace or a one-line error, never a crash.

#include <cstdint>
#include <cstdlib>

#include "collectors/collector.h"
#include "collectors/trace_decoder.h"
#include "tests/fuzz/mem_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tlbscope::fuzz::MemFile file;
  tlbscope::collect::Collector c;
  absl::StatusOr<tlbscope::collect::TraceFileInfo> info = tlbscope::collect::DecodeTraceFile(
      file.Set(data, size), [&c](const tlbscope::v1::TraceHeader& h) { c.SetHeader(h); },
      [&c](const tlbscope::collect::CEvent& e) { c.Observe(e); });
  if (!info.ok() && info.status().message().empty()) std::abort();
  c.Finish(info.ok() && info->end.has_value());
  if (info.ok() && c.events() != info->events) std::abort();
  return 0;
}
