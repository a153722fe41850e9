#pragma once

#include <string>

#include "absl/status/status.h"
#include "collectors/collector.h"

namespace tlbscope::collect {

// `tlbcollect replay FILE`: feeds every event of a recorded trace to `c`
// in order, with its header and end, then calls c.Finish(). Errors
// (InvalidArgument, naming the file, the record and the byte offset: not a
// trace, truncated or corrupt record; DataLoss: no end record, the trace
// was cut short) come after every readable event was fed, so what was
// found before the damage is kept.
absl::Status Replay(const std::string& path, Collector& c);

}  // namespace tlbscope::collect
