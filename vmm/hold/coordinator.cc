#include "vmm/hold/coordinator.h"

#include <chrono>

#include "absl/strings/str_format.h"

namespace tlbscope::hold {

Coordinator::Coordinator(std::vector<Spec> specs, WhereFn where)
    : specs_(std::move(specs)), where_(std::move(where)), state_(specs_.size()) {}

HoldResult Coordinator::AtHoldSite(size_t i, uint64_t rip) {
  HoldResult r;
  std::unique_lock<std::mutex> lock(mu_);
  State& s = state_[i];
  if (stopped_ || s.active || s.stats.held >= specs_[i].count) return r;
  s.active = true;
  s.released = false;
  ++s.stats.held;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + absl::ToChronoNanoseconds(specs_[i].timeout);
  bool woke = cv_.wait_until(lock, deadline, [&] { return s.released || stopped_; });
  r.waited = absl::FromChrono(std::chrono::steady_clock::now() - start);
  s.active = false;
  s.stats.longest = std::max(s.stats.longest, r.waited);
  if (woke && s.released) {
    ++s.stats.released;
    r.outcome = Outcome::kReleased;
    return r;
  }
  if (woke) {
    ++s.stats.stopped;
    r.outcome = Outcome::kStopped;
    r.message = absl::StrFormat("--hold %s: vCPU %u released because the VM stopped (%s)",
                                specs_[i].text, specs_[i].hold.vcpu, stop_reason_);
    return r;
  }
  ++s.stats.timed_out;
  r.outcome = Outcome::kTimedOut;
  lock.unlock();
  r.message = TimeoutLine(i, rip);
  return r;
}

std::string Coordinator::TimeoutLine(size_t i, uint64_t rip) const {
  const Spec& spec = specs_[i];
  std::string where = where_ ? where_(spec.release.vcpu) : "unknown";
  return absl::StrFormat(
      "--hold %s: timed out after %s: vCPU %u held at %s (rip %#x); vCPU %u never reached %s "
      "(it is at %s); vCPU %u released",
      spec.text, absl::FormatDuration(spec.timeout), spec.hold.vcpu, spec.hold.text, rip,
      spec.release.vcpu, spec.release.text, where, spec.hold.vcpu);
}

void Coordinator::AtReleaseSite(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!state_[i].active) return;
  state_[i].released = true;
  cv_.notify_all();
}

void Coordinator::Stop(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  stopped_ = true;
  stop_reason_ = why;
  cv_.notify_all();
}

HoldStats Coordinator::stats(size_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_[i].stats;
}

std::string Coordinator::Summary(size_t i) const {
  HoldStats s = stats(i);
  if (s.held == 0) {
    return absl::StrFormat("--hold %s: never held (vCPU %u did not reach %s)", specs_[i].text,
                           specs_[i].hold.vcpu, specs_[i].hold.text);
  }
  return absl::StrFormat("--hold %s: held %u, released %u, timed out %u, stopped %u (longest %s)",
                         specs_[i].text, s.held, s.released, s.timed_out, s.stopped,
                         absl::FormatDuration(s.longest));
}

}  // namespace tlbscope::hold
