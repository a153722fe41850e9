// ldmxcsr / stmxcsr: MXCSR to or from guest memory.
#include "absl/strings/str_format.h"
#include "vmm/trap/fixup.h"
#include "vmm/trap/guest_walk.h"

namespace tlbscope {

FixOutcome FixMxcsr(const FailureFix& fix, FixInput& in) {
  std::optional<uint64_t> ea = FixOperandAddress(fix, in);
  if (!ea) return FixOutcome::Decline();
  PagingMode mode{in.sregs.cr0, in.sregs.cr3, in.sregs.cr4, in.sregs.efer};
  if (fix.action == FailureFix::Action::kLdmxcsr) {
    uint32_t v = 0;
    if (absl::Status r = ReadGuestVirtual(in.mem, mode, *ea, {reinterpret_cast<uint8_t*>(&v), 4});
        !r.ok()) {
      return FixOutcome::Stop(absl::StrFormat("%s at %#x: operand %#x not readable (%s)", fix.text,
                                              in.regs.rip, *ea, r.message()));
    }
    if (v & 0xffff0000u) return FixOutcome::Raise(kGpVector, 0);  // reserved bits
    in.mxcsr = v;
    FixOutcome o = FixOutcome::Retire();
    o.mxcsr_changed = true;
    return o;
  }
  absl::StatusOr<uint64_t> gpa = TranslateGva(in.mem, mode, *ea);
  if (!gpa.ok() || (*ea & 0xfff) > 0xffc) {
    return FixOutcome::Stop(
        absl::StrFormat("%s at %#x: operand %#x not writable here", fix.text, in.regs.rip, *ea));
  }
  if (absl::Status s = in.mem.WriteObject(*gpa, in.mxcsr); !s.ok()) {
    return FixOutcome::Stop(
        absl::StrFormat("%s at %#x: operand %#x: %s", fix.text, in.regs.rip, *ea, s.message()));
  }
  return FixOutcome::Retire();
}

}  // namespace tlbscope
