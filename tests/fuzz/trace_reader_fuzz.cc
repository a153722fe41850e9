// tlbscope's own trace reader (vmm/trace/trace_reader.h) on arbitrary
// bytes: every input is a trace or a one-line error, never a crash.

#include <cstdint>
#include <cstdlib>

#include "tests/fuzz/mem_file.h"
#include "vmm/trace/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tlbscope::fuzz::MemFile file;
  uint64_t events = 0;
  absl::StatusOr<tlbscope::TraceSummary> s =
      tlbscope::ReadTrace(file.Set(data, size), [&](const tlbscope::v1::Event&) { ++events; });
  if (s.ok() && s->events != events) std::abort();  // the summary counts what was delivered
  if (!s.ok() && s.status().message().empty()) std::abort();
  return 0;
}
