#pragma once

#include <cstdint>

namespace tlbscope {

// How many TLB instructions of each kind: what a guest counted, what the
// trap engine trapped, what a single-step window saw.
struct TlbCounts {
  uint64_t cr3_writes = 0, invlpgs = 0, invpcids = 0;
  bool operator==(const TlbCounts&) const = default;
};

}  // namespace tlbscope
