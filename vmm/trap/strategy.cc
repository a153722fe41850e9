#include "vmm/trap/strategy.h"

#include "absl/strings/str_format.h"

namespace tlbscope {

const char* TrapStrategyName(TrapStrategy s) {
  switch (s) {
    case TrapStrategy::kHwBreakpointEmulate:
      return "hw-breakpoint+emulate";
    case TrapStrategy::kHwBreakpointStep:
      return "hw-breakpoint+step";
    case TrapStrategy::kSwBreakpoint:
      return "sw-breakpoint";
    case TrapStrategy::kEmulationFailure:
      return "emulation-failure";
    case TrapStrategy::kNone:
      return "none";
  }
  return "?";
}

TrapStrategy TrapPlan::For(TlbInsn k) const {
  switch (k) {
    case TlbInsn::kMovCr3:
      return cr3;
    case TlbInsn::kInvlpg:
      return invlpg;
    case TlbInsn::kInvpcid:
      return invpcid;
  }
  return TrapStrategy::kNone;
}

std::string TrapPlan::Describe() const {
  return absl::StrFormat("mov-cr3=%s invlpg=%s invpcid=%s", TrapStrategyName(cr3),
                         TrapStrategyName(invlpg), TrapStrategyName(invpcid));
}

TrapPlan PlanTraps(const HostCaps& c) {
  TrapPlan p;
  bool hw = c.hw_breakpoint_fires && c.hw_breakpoints > 0;
  bool step = hw && c.single_step_works;
  // MOV-to-CR3 is emulated through KVM_SET_SREGS (exact while the guest has
  // neither PCID nor global pages; otherwise the engine steps that event).
  if (hw) p.cr3 = TrapStrategy::kHwBreakpointEmulate;
  // INVLPG has no KVM ioctl with the same effect: it must really execute.
  if (step) p.invlpg = TrapStrategy::kHwBreakpointStep;
  if (!c.cpuid_invpcid && c.invpcid == InvpcidBehaviour::kEmulationFailure) {
    p.invpcid = TrapStrategy::kEmulationFailure;
  } else if (step) {
    p.invpcid = TrapStrategy::kHwBreakpointStep;
  }
  // Stepping over an int3 needs single-step; KVM_EXIT_DEBUG int3s need it too.
  p.int3_is_emulation_failure = !c.int3_exits && c.int3_emulation_failure;
  p.software_breakpoints = c.single_step_works && (c.int3_exits || c.int3_emulation_failure);
  return p;
}

}  // namespace tlbscope
