#pragma once

#include <cstdio>
#include <string>

#include "absl/status/status.h"

namespace tlbscope::collect {

// `tlbcollect dump FILE [FROM [TO]]`: every record of a trace, one line
// each (protobuf text format), events FROM..TO by sequence. For reading
// the window of events a violation names.
absl::Status DumpTrace(const std::string& path, uint64_t from, uint64_t to, FILE* out);

}  // namespace tlbscope::collect
