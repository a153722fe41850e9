#pragma once

#include <linux/kvm.h>

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/core/exit_dispatch.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/trap/host_caps.h"
#include "vmm/trap/strategy.h"
#include "vmm/trap/trap_event.h"

namespace tlbscope {

// What the vCPU loop hands trap exits (KVM_EXIT_DEBUG, emulation failures)
// to. nullopt: not a trap of ours; the loop stops with the exit's own reason.
class TrapExitHandler {
 public:
  virtual ~TrapExitHandler() = default;
  virtual std::optional<ExitAction> OnTrapExit(Vcpu& vcpu) = 0;
  // Set kvm_run.kvm_valid_regs before each KVM_RUN (KVM_CAP_SYNC_REGS).
  virtual uint64_t sync_regs_mask() const = 0;
};

// Traps every TLB instruction site of one kernel on every vCPU with the
// host's strategies: hardware breakpoints on up to 4 sites (one debug
// register each, the same on every vCPU), emulation-failure exits for an
// instruction the CPU model lacks. Events are kept per vCPU; only that
// vCPU's thread touches its part.
class TrapEngine : public TrapExitHandler {
 public:
  // `sites`: from ScanTlbSites on the kernel. Sites beyond the debug
  // registers are left uncovered (reported by uncovered()).
  TrapEngine(const HostCaps& caps, std::vector<TlbSite> sites, const GuestMemory* mem,
             int num_vcpus);

  // Installs the breakpoints on one vCPU; call before it first runs.
  absl::Status Arm(Vcpu& vcpu);

  std::optional<ExitAction> OnTrapExit(Vcpu& vcpu) override;
  uint64_t sync_regs_mask() const override;

  const TrapPlan& plan() const { return plan_; }
  const std::vector<const TlbSite*>& armed() const { return armed_; }
  const std::vector<const TlbSite*>& uncovered() const { return uncovered_; }
  // After the vCPU threads have stopped.
  const std::vector<TrapEvent>& events(int vcpu) const { return per_vcpu_[vcpu].events; }

 private:
  struct PerVcpu {
    int stepping_slot = -1;            // breakpoint disarmed while one instruction steps
    uint64_t step_end = 0;             // RIP after the stepped instruction
    std::optional<TrapEvent> pending;  // recorded once the step completes
    std::vector<TrapEvent> events;
  };
  kvm_guest_debug DebugState(int disarmed_slot, bool single_step) const;
  std::optional<ExitAction> OnBreakpoint(Vcpu& vcpu, int slot);
  std::optional<ExitAction> OnStepDone(Vcpu& vcpu);
  std::optional<ExitAction> OnEmulationFailure(Vcpu& vcpu);
  void Record(int vcpu, TrapEvent e, const TlbSite& site, TrapStrategy strategy);
  ExitAction Stop(std::string message) const;

  HostCaps caps_;
  TrapPlan plan_;
  std::vector<TlbSite> sites_;
  const GuestMemory* mem_;
  std::vector<const TlbSite*> armed_;  // index = debug register
  std::vector<const TlbSite*> uncovered_;
  std::vector<PerVcpu> per_vcpu_;
};

}  // namespace tlbscope
