// rdfsbase / rdgsbase / wrfsbase / wrgsbase (FSGSBASE).
#include "vmm/trap/fixup.h"
#include "vmm/trap/operands.h"

namespace tlbscope {

FixOutcome FixFsGsBase(const FailureFix& fix, FixInput& in) {
  using A = FailureFix::Action;
  bool fs = fix.action == A::kReadFsBase || fix.action == A::kWriteFsBase;
  kvm_segment& seg = fs ? in.sregs.fs : in.sregs.gs;
  if (fix.action == A::kReadFsBase || fix.action == A::kReadGsBase) {
    if (!SetRegisterValue(in.regs, fix.dest, seg.base)) return FixOutcome::Decline();
    return FixOutcome::Retire();
  }
  std::optional<uint64_t> v = RegisterValue(in.regs, fix.source);
  if (!v) return FixOutcome::Decline();
  constexpr int kLinearBits = 57;  // at most; a non-canonical base is #GP
  int64_t sv = static_cast<int64_t>(*v);
  if (fix.size == 8 && (sv >> (kLinearBits - 1)) != 0 && (sv >> (kLinearBits - 1)) != -1) {
    return FixOutcome::Raise(kGpVector, 0);
  }
  seg.base = *v;
  FixOutcome o = FixOutcome::Retire();
  o.sregs_changed = true;
  return o;
}

}  // namespace tlbscope
