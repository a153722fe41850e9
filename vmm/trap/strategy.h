#pragma once

#include <string>

#include "vmm/trap/host_caps.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope {

// How tlbscope gets control at one kind of TLB instruction.
enum class TrapStrategy {
  // Hardware breakpoint; the VMM performs the instruction through vCPU state
  // (KVM_SET_SREGS for CR3) and advances RIP: one exit per event.
  kHwBreakpointEmulate,
  // Hardware breakpoint; the instruction really executes under a one-
  // instruction single-step with that breakpoint disarmed, then re-armed.
  kHwBreakpointStep,
  // int3 patched over the site (for more sites than debug registers).
  kSwBreakpoint,
  // The host CPU model lacks the instruction: KVM reports an emulation
  // failure with its bytes; the VMM decodes, records and emulates it.
  kEmulationFailure,
  kNone,
};
const char* TrapStrategyName(TrapStrategy s);

struct TrapPlan {
  TrapStrategy cr3 = TrapStrategy::kNone;
  TrapStrategy invlpg = TrapStrategy::kNone;
  TrapStrategy invpcid = TrapStrategy::kNone;
  // Sites beyond the debug registers can get an int3 (KVM_EXIT_DEBUG, or an
  // emulation-failure exit where KVM's emulator runs guest kernel code).
  bool software_breakpoints = false;
  bool int3_is_emulation_failure = false;
  TrapStrategy For(TlbInsn k) const;
  std::string Describe() const;  // "mov-cr3=hw-breakpoint+emulate invlpg=... invpcid=..."
};

// The strategy per instruction on this host, best first.
TrapPlan PlanTraps(const HostCaps& caps);

}  // namespace tlbscope
