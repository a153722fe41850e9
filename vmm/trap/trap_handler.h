#pragma once

// The per-instruction trap handlers (cr3_trap.cc, invlpg_trap.cc,
// invpcid_trap.cc). Each decodes one trapped instruction from the vCPU's
// state into an event and says how the engine goes on.

#include <string>

#include "absl/status/status.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/trap/site_scanner.h"
#include "vmm/trap/trap_event.h"
#include "vmm/trap/vcpu_state.h"

namespace tlbscope {

struct TrapOutcome {
  enum class Next {
    kResume,    // the handler performed the instruction and moved RIP on
    kStepOver,  // let the CPU execute it (single-step with the breakpoint off)
    kInjectGp,  // the instruction faults: #GP(0), RIP unchanged
    kStop,      // cannot go on; `message` says why
  };
  Next next = Next::kStop;
  bool flush_tlb = false;  // with kResume: the engine flushes the whole guest TLB
  TrapEvent event;
  std::string message;
};

// Every handler's start: the vCPU's registers. False when they cannot be
// read, and `out` then says why (and stops).
inline bool LoadTrapRegs(VcpuStateView& state, kvm_regs** regs, kvm_sregs** sregs,
                         TrapOutcome* out) {
  absl::Status s = state.Load(regs, sregs);
  if (!s.ok()) out->message = std::string(s.message());
  return s.ok();
}

// MOV-to-CR3. With `emulate`, performed through vCPU state when that is
// exact: a new CR3 value (KVM_SET_SREGS reloads the MMU only on a change)
// with no CR4.PCIDE and no CR4.PGE, so the write flushes every TLB entry,
// exactly as the MMU reload does. Otherwise it is stepped.
TrapOutcome HandleCr3Write(const TlbSite& site, VcpuStateView& state, bool emulate);

// INVLPG: the linear address; always really executed (stepped).
TrapOutcome HandleInvlpg(const TlbSite& site, VcpuStateView& state);

// INVPCID: type and the 16-byte descriptor read through the guest's page
// tables. With `emulate` (the CPU lacks INVPCID), checked as the SDM says
// (#GP for a bad type or descriptor) and performed as a full flush, which
// is at least as strong as any INVPCID type; otherwise stepped.
TrapOutcome HandleInvpcid(const TlbSite& site, VcpuStateView& state, const GuestMemory& mem,
                          bool emulate);

}  // namespace tlbscope
