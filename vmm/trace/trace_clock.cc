#include "vmm/trace/trace_clock.h"

#include <x86intrin.h>

#include <chrono>

namespace tlbscope {

uint64_t TraceClock::Tsc() const { return __rdtsc(); }

int64_t TraceClock::Ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const TraceClock& RealTraceClock() {
  static const TraceClock clock;
  return clock;
}

TscNsPair ReadTscNsPair(const TraceClock& clock) {
  TscNsPair best{0, 0, 0};
  uint64_t best_width = UINT64_MAX;
  for (int i = 0; i < kPairTries; ++i) {
    uint64_t before = clock.Tsc();
    int64_t ns = clock.Ns();
    uint64_t after = clock.Tsc();
    uint64_t width = after >= before ? after - before : UINT64_MAX;
    if (width < best_width) {
      best_width = width;
      best = {before + width / 2, ns, after};
    }
    if (best_width < kGoodBracket) break;
  }
  return best;
}

}  // namespace tlbscope
