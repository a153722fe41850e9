#include "absl/strings/str_format.h"
#include "vmm/trap/operands.h"
#include "vmm/trap/trap_handler.h"

namespace tlbscope {

TrapOutcome HandleInvlpg(const TlbSite& site, VcpuStateView& state) {
  TrapOutcome out;
  kvm_regs* regs;
  kvm_sregs* sregs;
  if (!LoadTrapRegs(state, &regs, &sregs, &out)) return out;
  std::optional<uint64_t> linear = EffectiveAddress(site, *regs, *sregs);
  if (!linear) {
    out.message = absl::StrFormat("cannot compute the address of '%s'", site.text);
    return out;
  }
  out.event.kind = TlbInsn::kInvlpg;
  out.event.linear = *linear;
  // No KVM interface invalidates one guest page: let the CPU do it.
  out.next = TrapOutcome::Next::kStepOver;
  return out;
}

}  // namespace tlbscope
