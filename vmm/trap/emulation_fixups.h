#pragma once

// Emulation failures that are not tlbscope's traps. On hosts where KVM's
// instruction emulator runs guest kernel code (kvm_pvm), instructions it
// cannot emulate surface as KVM_EXIT_INTERNAL_ERROR with their bytes. The
// VMM decodes them (Capstone) and does what the CPU would have done where
// that can be done correctly: int3 raises #BP, cmpxchg16b is performed
// atomically on guest memory, popcnt, clac/stac, fwait, ld/stmxcsr and
// rd/wr{fs,gs}base are performed on the registers, an XSAVE-family
// instruction raises #UD when the guest's CPUID has no XSAVE (where it has,
// the VM stops, naming the instruction: the emulator cannot run it and the
// VMM does not emulate XSAVE state). Anything else stops the VM as before.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "vmm/kvm/guest_memory.h"
#include "vmm/trap/emulation_failure.h"
#include "vmm/trap/trap_engine.h"
#include "vmm/vcpu/exit_dispatch.h"

namespace tlbscope {

// Counts of what was fixed, per kind (for the run's report).
struct FixupCounts {
  uint64_t breakpoints = 0, invalid_opcodes = 0, cmpxchg16b = 0, popcnt = 0, other = 0;
  // Of `breakpoints`: the guest's own int3s whose #BP tlbscope delivered
  // itself (vmm/trap/int3_delivery.h) rather than through KVM's injection.
  uint64_t breakpoints_delivered = 0;
};

// Wraps the trap engine (may be null): the engine sees every trap exit
// first; emulation failures it does not claim are fixed here when possible.
class EmulationFixups : public TrapExitHandler {
 public:
  EmulationFixups(TrapExitHandler* inner, GuestMemory* mem, int num_vcpus)
      : inner_(inner), mem_(mem), counts_(num_vcpus) {}
  std::optional<ExitAction> OnTrapExit(Vcpu& vcpu) override;
  uint64_t sync_regs_mask() const override { return inner_ ? inner_->sync_regs_mask() : 0; }
  // After the vCPU threads have stopped.
  FixupCounts total() const;

 private:
  std::optional<ExitAction> Fix(Vcpu& vcpu);
  std::optional<ExitAction> GiveBackInt3(Vcpu& vcpu);
  bool DeliveredInt3(Vcpu& vcpu);
  void Count(const FailureFix& fix, int vcpu);
  TrapExitHandler* inner_;
  GuestMemory* mem_;
  std::vector<FixupCounts> counts_;  // per vCPU, touched by its thread only
};

}  // namespace tlbscope
