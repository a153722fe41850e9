// The fixups that touch only registers and flags: int3, the XSAVE family,
// fwait, clac/stac; and the table of all of them.
#include "absl/strings/str_format.h"
#include "vmm/trap/fixup.h"
#include "vmm/trap/operands.h"

namespace tlbscope {

std::optional<uint64_t> FixOperandAddress(const FailureFix& fix, const FixInput& in) {
  TlbSite operand{};
  operand.address = in.regs.rip;
  operand.length = fix.length;
  operand.mem = fix.mem;
  return EffectiveAddress(operand, in.regs, in.sregs);
}

// #BP is a trap: the handler sees RIP after the int3.
FixOutcome FixInt3(const FailureFix&, FixInput&) {
  FixOutcome o = FixOutcome::Raise(kBreakpointVector);
  o.retire = true;
  return o;
}

// With CR4.OSXSAVE clear the CPU raises #UD. With it set the guest was told
// XSAVE exists (here the host's CPUID can reach the guest kernel
// unfiltered), and a #UD would be a lie.
FixOutcome FixXsaveFamily(const FailureFix& fix, FixInput& in) {
  constexpr uint64_t kCr4OsXsave = 1ull << 18;
  if (!(in.sregs.cr4 & kCr4OsXsave)) return FixOutcome::Raise(kInvalidOpcodeVector);
  return FixOutcome::Stop(absl::StrFormat(
      "%s at %#x: KVM's instruction emulator cannot run it and tlbscope does not emulate XSAVE "
      "state; boot Linux with noxsave on this host",
      fix.text, in.regs.rip));
}

// #NM if CR0.TS and CR0.MP, else nothing (no x87 exception is pending that
// the VMM could see).
FixOutcome FixFwait(const FailureFix&, FixInput& in) {
  constexpr uint64_t kCr0MpTs = (1ull << 1) | (1ull << 3);
  if ((in.sregs.cr0 & kCr0MpTs) == kCr0MpTs) return FixOutcome::Raise(kNoMathVector);
  return FixOutcome::Retire();
}

// RFLAGS.AC: 0 for clac, 1 for stac (SMAP).
FixOutcome FixClacStac(const FailureFix& fix, FixInput& in) {
  constexpr uint64_t kRflagsAc = 1ull << 18;
  bool stac = fix.action == FailureFix::Action::kStac;
  in.regs.rflags = stac ? (in.regs.rflags | kRflagsAc) : (in.regs.rflags & ~kRflagsAc);
  return FixOutcome::Retire();
}

FixFunction FixFor(FailureFix::Action action) {
  using A = FailureFix::Action;
  switch (action) {
    case A::kNone:
      return nullptr;
    case A::kInjectBreakpoint:
      return FixInt3;
    case A::kInjectInvalidOpcode:
      return FixXsaveFamily;
    case A::kCmpxchg16b:
      return FixCmpxchg16b;
    case A::kPopcnt:
      return FixPopcnt;
    case A::kFwait:
      return FixFwait;
    case A::kLdmxcsr:
    case A::kStmxcsr:
      return FixMxcsr;
    case A::kClac:
    case A::kStac:
      return FixClacStac;
    case A::kReadFsBase:
    case A::kReadGsBase:
    case A::kWriteFsBase:
    case A::kWriteGsBase:
      return FixFsGsBase;
  }
  return nullptr;
}

}  // namespace tlbscope
