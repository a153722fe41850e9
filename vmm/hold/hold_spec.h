#pragma once
// --hold: keep one vCPU at a point of the guest's code until another vCPU
// reaches another point, so that a race happens on every run instead of by
// luck (issue 15; docs/hold.md).
//
//   --hold VCPU:SITE,release=VCPU:SITE[,timeout=DURATION][,count=N]
//   SITE = SYMBOL[+OFFSET][%return] | 0xADDRESS
//
// e.g. `--hold 1:flush_tlb_func,release=0:tlb_finish_mmu%return,timeout=2s`
// holds vCPU 1 at the entry of flush_tlb_func until vCPU 0 returns from
// tlb_finish_mmu (perf-probe's `%return`), at most 2 s, the first time only.
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tlbscope::hold {

struct Site {
  uint32_t vcpu = 0;
  std::string symbol;   // empty: `address` is absolute
  uint64_t offset = 0;  // added to the symbol's address
  uint64_t address = 0;
  bool at_return = false;  // when the function returns (SYMBOL%return)
  std::string text;        // as written, for messages: "1:flush_tlb_func"
};

struct Spec {
  Site hold;
  Site release;
  absl::Duration timeout = absl::Seconds(5);
  uint32_t count = 1;  // how many times the hold site holds (each hit, in order)
  std::string text;    // the whole option, as written
};

inline constexpr absl::Duration kMaxHoldTimeout = absl::Seconds(600);
inline constexpr uint32_t kMaxHoldCount = 1'000'000;

// One --hold value (or a suite's `hold` entry). Errors name the part that
// is wrong; `vcpus` is the guest's vCPU count (0: not known yet, not checked).
absl::StatusOr<Spec> ParseSpec(absl::string_view text, uint32_t vcpus = 0);

}  // namespace tlbscope::hold
