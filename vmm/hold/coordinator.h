#pragma once
// The holds of one run (--hold), shared by the vCPU threads. A vCPU that
// reaches a hold site blocks in AtHoldSite until the releasing vCPU reaches
// the release site, the timeout passes, or the VM stops; it never blocks
// for longer than the spec's timeout. Only a release that happens while the
// hold is on counts: the point is the order "held, then the other goes by".
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vmm/hold/hold_spec.h"

namespace tlbscope::hold {

enum class Outcome { kNotHeld, kReleased, kTimedOut, kStopped };

struct HoldResult {
  Outcome outcome = Outcome::kNotHeld;
  absl::Duration waited;
  std::string message;  // kTimedOut / kStopped: the one line that says what happened
};

struct HoldStats {
  uint32_t held = 0, released = 0, timed_out = 0, stopped = 0;
  absl::Duration longest;
};

class Coordinator {
 public:
  // Where a vCPU is now ("tlb_finish_mmu+0x12", "rip 0x..."), for the line a
  // timeout prints. Called without the coordinator's lock.
  using WhereFn = std::function<std::string(uint32_t vcpu)>;

  Coordinator(std::vector<Spec> specs, WhereFn where);

  // Before any vCPU runs.
  void SetWhere(WhereFn where) { where_ = std::move(where); }
  const std::vector<Spec>& specs() const { return specs_; }
  // specs()[i]'s holding vCPU is at its hold site (`rip`).
  HoldResult AtHoldSite(size_t i, uint64_t rip);
  // specs()[i]'s releasing vCPU is at its release site.
  void AtReleaseSite(size_t i);
  // The VM is stopping (`why`): every hold ends now and no new one starts.
  void Stop(const std::string& why);

  HoldStats stats(size_t i) const;
  // "--hold SPEC: held 1, released 1 (longest 3.2ms)" and the like.
  std::string Summary(size_t i) const;

 private:
  struct State {
    bool active = false;
    bool released = false;
    HoldStats stats;
  };
  std::string TimeoutLine(size_t i, uint64_t rip) const;

  std::vector<Spec> specs_;
  WhereFn where_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<State> state_;
  bool stopped_ = false;
  std::string stop_reason_;
};

}  // namespace tlbscope::hold
