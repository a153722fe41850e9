#include "absl/strings/str_format.h"
#include "vmm/trap/operands.h"
#include "vmm/trap/trap_handler.h"

namespace tlbscope {
namespace {
constexpr uint64_t kCr4Pge = 1ull << 7, kCr4Pcide = 1ull << 17;
}  // namespace

TrapOutcome HandleCr3Write(const TlbSite& site, VcpuStateView& state, bool emulate) {
  TrapOutcome out;
  kvm_regs* regs;
  kvm_sregs* sregs;
  if (!LoadTrapRegs(state, &regs, &sregs, &out)) return out;
  std::optional<uint64_t> value = RegisterValue(*regs, site.reg);
  if (!value) {
    out.message = absl::StrFormat("cannot read the source register of '%s'", site.text);
    return out;
  }
  if (!In64BitMode(*sregs)) *value &= 0xffffffffull;  // 32-bit MOV to CR3
  TrapEvent& e = out.event;
  e.kind = TlbInsn::kMovCr3;
  e.old_cr3 = sregs->cr3;
  e.new_cr3 = *value;
  e.pcide = sregs->cr4 & kCr4Pcide;

  // KVM_SET_SREGS reloads the MMU (a full flush) when CR3 changes. That is
  // exactly what the instruction does only when there are no PCIDs or global
  // pages to keep; a reload of the same value is left to the CPU.
  bool exact = !(sregs->cr4 & (kCr4Pcide | kCr4Pge)) && e.new_cr3 != e.old_cr3;
  if (!emulate || !exact) {
    out.next = TrapOutcome::Next::kStepOver;
    return out;
  }
  sregs->cr3 = *value;
  regs->rip += site.length;
  state.MarkSregsDirty();
  state.MarkRegsDirty();
  e.emulated = true;
  out.next = TrapOutcome::Next::kResume;
  return out;
}

}  // namespace tlbscope
