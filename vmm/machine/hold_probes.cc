#include "vmm/machine/hold_probes.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "common/log.h"
#include "vmm/trap/guest_walk.h"

namespace tlbscope {
namespace {

absl::StatusOr<uint64_t> SiteAddress(const hold::Site& s, const HoldProbes::LookupFn& lookup) {
  if (s.symbol.empty()) return s.address;
  std::optional<uint64_t> a = lookup ? lookup(s.symbol) : std::nullopt;
  if (!a) {
    return absl::NotFoundError(
        absl::StrFormat("%s: no symbol '%s' in this kernel", s.text, s.symbol));
  }
  return *a + s.offset;
}

absl::StatusOr<uint64_t> Physical(uint64_t gva, const std::vector<ElfSegment>& loads,
                                  const std::string& site) {
  if (std::optional<uint64_t> pa = LoadedPhysical(loads, gva)) return *pa;
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %#x is in no loaded segment of the kernel", site, gva));
}

}  // namespace

HoldProbes::HoldProbes(std::vector<hold::Spec> specs, GuestMemory* mem, ProbePoints* points,
                       ProbeClient* next)
    : coordinator_(std::make_unique<hold::Coordinator>(std::move(specs), nullptr)),
      mem_(mem),
      points_(points),
      next_(next) {}

absl::StatusOr<std::unique_ptr<HoldProbes>> HoldProbes::Create(
    std::vector<hold::Spec> specs, const LookupFn& lookup, const std::vector<ElfSegment>& loads,
    GuestMemory* mem, ProbePoints* points, ProbeClient* next) {
  std::unique_ptr<HoldProbes> h(new HoldProbes(std::move(specs), mem, points, next));
  const std::vector<hold::Spec>& all = h->coordinator_->specs();
  for (size_t i = 0; i < all.size(); ++i) {
    for (bool is_hold : {true, false}) {
      const hold::Site& s = is_hold ? all[i].hold : all[i].release;
      auto bad = [&](const absl::Status& st) {
        return absl::InvalidArgumentError(
            absl::StrFormat("--hold %s: %s", all[i].text, st.message()));
      };
      absl::StatusOr<uint64_t> gva = SiteAddress(s, lookup);
      if (!gva.ok()) return bad(gva.status());
      absl::StatusOr<uint64_t> gpa = Physical(*gva, loads, s.text);
      if (!gpa.ok()) return bad(gpa.status());
      // The Linux probes' int3 may go in later (after the kernel's boot).
      if (points->Contains(*gva) || (next != nullptr && next->Owns(*gva))) {
        h->shared_.push_back(*gva);
      }
      if (absl::Status st = points->Place(*gva, *gpa); !st.ok()) return bad(st);
      h->watches_.push_back(Watch{i, is_hold, s.vcpu, *gva, s.at_return});
    }
  }
  return h;
}

void HoldProbes::Attach(VmControl* control, hold::Coordinator::WhereFn where) {
  control_ = control;
  coordinator_->SetWhere(std::move(where));
}

ProbeClient::Next HoldProbes::OnProbeHit(int vcpu, VcpuStateView& state) {
  kvm_regs* r = nullptr;
  kvm_sregs* s = nullptr;
  if (!state.Load(&r, &s).ok()) return Next::kStep;
  // As the vCPU arrived: the next client may move RIP and RSP on.
  const uint64_t rip = r->rip, rsp = r->rsp;
  const PagingMode mode{s->cr0, s->cr3, s->cr4, s->efer};
  std::vector<const Watch*> here;
  bool ours = false;
  for (const Watch& w : watches_) {
    if (w.address != rip) continue;
    ours = true;
    if (static_cast<int>(w.vcpu) == vcpu) here.push_back(&w);
  }
  bool shared = std::find(shared_.begin(), shared_.end(), rip) != shared_.end();
  std::optional<Frame> returned = TakeFrame(vcpu, rip, rsp);
  if (returned) {
    ours = true;
    shared = shared || returned->shared;
  }
  Next next = Next::kStep;
  if (next_ != nullptr && (!ours || shared)) next = next_->OnProbeHit(vcpu, state);
  if (returned) Reached(*returned->watch, rip);
  for (const Watch* w : here) {
    if (w->at_return) {
      EnterFunction(*w, rsp, mode);
    } else {
      Reached(*w, rip);
    }
  }
  return next;
}

void HoldProbes::EnterFunction(const Watch& w, uint64_t rsp, const PagingMode& mode) {
  uint64_t ret = 0;
  if (!ReadGuestVirtual(*mem_, mode, rsp, std::span(reinterpret_cast<uint8_t*>(&ret), 8)).ok()) {
    return;
  }
  absl::StatusOr<uint64_t> pa = TranslateGva(*mem_, mode, ret);
  if (!pa.ok()) return;
  bool shared = points_->Contains(ret);
  if (!points_->Place(ret, *pa).ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto same_watch = [&w](const Frame& f) { return f.watch == &w; };
  if (static_cast<size_t>(std::count_if(frames_.begin(), frames_.end(), same_watch)) >=
      kMaxPendingReturns) {
    auto oldest = std::find_if(frames_.begin(), frames_.end(), same_watch);
    points_->Remove(oldest->return_address);
    frames_.erase(oldest);
  }
  frames_.push_back(Frame{&w, ret, rsp + 8, shared});
}

std::optional<HoldProbes::Frame> HoldProbes::TakeFrame(int vcpu, uint64_t rip, uint64_t rsp) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = frames_.begin(); it != frames_.end(); ++it) {
    if (it->return_address == rip && static_cast<int>(it->watch->vcpu) == vcpu &&
        it->rsp_after == rsp) {
      Frame f = *it;
      frames_.erase(it);
      points_->Remove(rip);
      return f;
    }
  }
  return std::nullopt;
}

void HoldProbes::Reached(const Watch& w, uint64_t rip) {
  if (!w.is_hold) {
    coordinator_->AtReleaseSite(w.spec);
    return;
  }
  if (control_ != nullptr) control_->SetHeld(static_cast<int>(w.vcpu), true);
  hold::HoldResult r = coordinator_->AtHoldSite(w.spec, rip);
  if (control_ != nullptr) control_->SetHeld(static_cast<int>(w.vcpu), false);
  if (!r.message.empty()) Log("%s", r.message);
}

std::vector<std::string> HoldProbes::Summaries() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < coordinator_->specs().size(); ++i) {
    out.push_back(coordinator_->Summary(i));
  }
  return out;
}

}  // namespace tlbscope
