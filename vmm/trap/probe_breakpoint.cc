// The trap engine's side of the guest-kernel probes: an int3 of
// ProbePoints is handed to the ProbeClient, which either performs the
// instruction under it (an endbr64, a push) or has the engine step it with
// the int3 lifted and the other vCPUs parked, as for a TLB site's int3.
#include "vmm/trap/trap_engine.h"

namespace tlbscope {

std::optional<ExitAction> TrapEngine::OnProbeInt3(Vcpu& vcpu, uint64_t at) {
  if (probe_client_ == nullptr) return std::nullopt;
  const bool ours = probe_points_.Contains(at);
  if (!ours && !probe_points_.WasOursAndIsGone(at)) return std::nullopt;
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  absl::StatusOr<kvm_regs*> regs = state.regs();
  if (!regs.ok()) return Stop(std::string(regs.status().message()));
  (*regs)->rip = at;
  state.MarkRegsDirty();
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  std::pair<uint64_t, uint64_t> where{at, (*regs)->rsp};
  ProbeClient::Next next = ProbeClient::Next::kStep;
  if (!ours) {
    // Removed while this vCPU was on its way here: the original byte is
    // back, so the instruction just runs again.
    next = ProbeClient::Next::kResume;
  } else if (pv.probe_reported != where) {
    next = probe_client_->OnProbeHit(vcpu.index(), state);
  }
  pv.probe_reported.reset();
  if (next == ProbeClient::Next::kResume) {
    if (absl::Status s = state.Commit(); !s.ok()) return Stop(std::string(s.message()));
    return ExitAction::Continue();
  }
  int expected = -1;
  if (!stepper_.compare_exchange_strong(expected, vcpu.index())) {
    // Another vCPU is stepping: come back to this int3 once it is done.
    pv.probe_reported = where;
    if (absl::Status s = state.Commit(); !s.ok()) return Stop(std::string(s.message()));
    return ExitAction::Continue();
  }
  if (control_ != nullptr) control_->PauseOthers(vcpu.index());
  absl::Status s = probe_points_.Lift(at);
  if (s.ok()) s = vcpu.SetGuestDebug(DebugState(pv, -1, true));
  if (s.ok()) s = state.Commit();
  pv.stepping_probe = at;
  if (!s.ok()) return Stop(std::string(s.message()));
  return ExitAction::Continue();
}

std::optional<ExitAction> TrapEngine::OnProbeStepDone(Vcpu& vcpu) {
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  uint64_t at = *pv.stepping_probe;
  pv.stepping_probe.reset();
  absl::Status s = probe_points_.Rearm(at);
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  if (s.ok()) {
    s = pv.window_left > 0 ? vcpu.SetGuestDebug(DebugState(pv, -1, false))
                           : StopStepping(vcpu, state);
  }
  if (s.ok()) s = state.Commit();
  stepper_.store(-1);
  if (control_ != nullptr) control_->ResumeOthers(vcpu.index());
  if (!s.ok()) return Stop(std::string(s.message()));
  return ExitAction::Continue();
}

}  // namespace tlbscope
