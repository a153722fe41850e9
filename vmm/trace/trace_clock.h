#pragma once

// The two clocks the sequencer orders by: the TSC (guest ring records are
// stamped with it) and the host's monotonic clock (vCPU-thread events).
// A guest record's host time comes from a (TSC, ns) pair read now and one
// read at the start. Read naively (rdtsc, then clock_gettime) a pair is
// wrong by however long the thread was preempted between the two reads:
// on a loaded host that is a scheduler slice (milliseconds), and every
// guest record of that drain pass is then stamped that much late and sorted
// after host events that came after it (issue 17 item 6). ReadTscNsPair
// brackets the clock read between two TSC reads and retries until the
// bracket is narrow.

#include <cstdint>

namespace tlbscope {

class TraceClock {
 public:
  virtual ~TraceClock() = default;
  virtual uint64_t Tsc() const;  // rdtsc
  virtual int64_t Ns() const;    // steady_clock
};

// The process-wide real clocks.
const TraceClock& RealTraceClock();

struct TscNsPair {
  uint64_t tsc;  // the TSC at the clock read (the bracket's middle)
  int64_t ns;
  uint64_t tsc_max;  // the bracket's end: no TSC read before the pair returned is later
};

// The narrowest of up to kTries brackets [tsc before, tsc after] around one
// clock read; the TSC is the bracket's middle. Stops at the first bracket
// narrower than kGoodBracket TSC ticks.
inline constexpr int kPairTries = 16;
inline constexpr uint64_t kGoodBracket = 1 << 16;  // ~20 us at 3 GHz
TscNsPair ReadTscNsPair(const TraceClock& clock);

}  // namespace tlbscope
