// Sites the kernel patches into its text at boot: their int3s go in once
// that patching is done (TrapEngine::AddDeferredSites).
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "vmm/trap/trap_engine.h"

namespace tlbscope {
namespace {

// "0f 22 df": guest bytes as a report line shows them.
std::string SpacedHex(const std::vector<uint8_t>& bytes) {
  return absl::StrJoin(bytes, " ",
                       [](std::string* o, uint8_t b) { absl::StrAppendFormat(o, "%02x", b); });
}

}  // namespace

void TrapEngine::AddDeferredSites(std::vector<TlbSite> sites) {
  deferred_ = std::move(sites);
  deferred_report_.waiting = deferred_.size();
  if (!plan_.software_breakpoints) {
    for (const TlbSite& s : deferred_) uncovered_.push_back(&s);
    return;
  }
  first_deferred_ = sw_.size();
  deferred_live_ = std::make_unique<std::atomic<bool>[]>(deferred_.size());
  for (const TlbSite& s : deferred_) sw_.push_back({&s, s.paddr.value_or(0), 0});
}

bool TrapEngine::SiteLive(size_t sw_index) const {
  if (sw_index < first_deferred_) return true;
  return deferred_live_[sw_index - first_deferred_].load(std::memory_order_acquire);
}

void TrapEngine::PlaceDeferredSites() {
  if (first_deferred_ == SIZE_MAX || deferred_done_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(deferred_mu_);
  if (deferred_done_.load(std::memory_order_relaxed)) return;
  for (size_t i = 0; i < deferred_.size(); ++i) {
    SwSite& sw = sw_[first_deferred_ + i];
    const TlbSite& site = deferred_[i];
    std::vector<uint8_t> now(site.length);
    absl::Status read =
        site.paddr ? mem_->Read(sw.paddr, now) : absl::OutOfRangeError("no physical address");
    if (!read.ok() || now != site.bytes) {
      deferred_report_.absent.push_back(absl::StrFormat(
          "%#x: %s", site.address, read.ok() ? SpacedHex(now) : std::string(read.message())));
      continue;
    }
    // Live before the int3: a vCPU that takes it finds the site.
    sw.original = now.front();
    deferred_live_[i].store(true, std::memory_order_release);
    if (absl::Status w = mem_->WriteObject(sw.paddr, kInt3); !w.ok()) {
      deferred_live_[i].store(false, std::memory_order_release);
      deferred_report_.absent.push_back(absl::StrFormat("%#x: %s", site.address, w.message()));
      continue;
    }
    deferred_report_.placed.push_back(site);
  }
  deferred_report_.done = true;
  deferred_done_.store(true, std::memory_order_release);
}

void TrapEngine::AfterKernelBoot() {
  if (checked_done_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard<std::mutex> lock(deferred_mu_);
    if (checked_done_.load(std::memory_order_relaxed)) return;
    CheckStartSites();
    checked_done_.store(true, std::memory_order_release);
  }
  PlaceDeferredSites();
}

// Under deferred_mu_. A site lifted for another vCPU's step shows its
// original byte and the instruction's other bytes: that is no change.
// Anything else is the kernel's: the first byte neither int3 nor the
// instruction's, or the bytes after it not the instruction's.
void TrapEngine::CheckStartSites() {
  size_t end = std::min(first_deferred_, sw_.size());
  for (size_t i = 0; i < end; ++i) {
    const SwSite& sw = sw_[i];
    const TlbSite& site = *sw.site;
    std::vector<uint8_t> now(site.length);
    if (site.length == 0 || !mem_->Read(sw.paddr, now).ok()) continue;
    ++deferred_report_.checked_sites;
    bool first_ok = now.front() == kInt3 || now.front() == sw.original;
    bool tail_ok = std::equal(now.begin() + 1, now.end(), site.bytes.begin() + 1);
    if (first_ok && tail_ok) continue;
    deferred_report_.written_over.push_back(
        absl::StrFormat("%s: now %s", SiteLabel(site), SpacedHex(now)));
  }
  deferred_report_.checked = true;
}

TrapEngine::DeferredReport TrapEngine::deferred() const {
  std::lock_guard<std::mutex> lock(deferred_mu_);
  return deferred_report_;
}

}  // namespace tlbscope
