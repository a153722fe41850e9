#pragma once

#include <cstdint>
#include <optional>

#include "vmm/kvm/vcpu.h"
#include "vmm/vcpu/exit_dispatch.h"

namespace tlbscope {

// What the vCPU loop hands trap exits (KVM_EXIT_DEBUG, emulation failures)
// to. nullopt: not a trap of ours; the loop stops with the exit's own reason.
// The trap layer implements it (TrapEngine); the vCPU layer knows only this.
class TrapExitHandler {
 public:
  virtual ~TrapExitHandler() = default;
  virtual std::optional<ExitAction> OnTrapExit(Vcpu& vcpu) = 0;
  // Set kvm_run.kvm_valid_regs before each KVM_RUN (KVM_CAP_SYNC_REGS).
  virtual uint64_t sync_regs_mask() const = 0;
};

// Lets one vCPU thread park all the others while it single-steps over a
// software breakpoint it has lifted, so none of them runs past that site
// unobserved. The machine implements it.
class VmControl {
 public:
  virtual ~VmControl() = default;
  virtual void PauseOthers(int self) = 0;
  virtual void ResumeOthers(int self) = 0;
  // `self` waits in a trap handler outside the guest (--hold) or no longer.
  virtual void SetHeld(int /*self*/, bool /*held*/) {}
};

}  // namespace tlbscope
