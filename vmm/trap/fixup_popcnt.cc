// popcnt from a register or from memory.
#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/trap/fixup.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/operands.h"

namespace tlbscope {

FixOutcome FixPopcnt(const FailureFix& fix, FixInput& in) {
  uint64_t value = 0;
  if (fix.source != X86_REG_INVALID) {
    std::optional<uint64_t> v = RegisterValue(in.regs, fix.source);
    if (!v) return FixOutcome::Decline();
    value = *v;
  } else {
    std::optional<uint64_t> ea = FixOperandAddress(fix, in);
    if (!ea || fix.size > 8) return FixOutcome::Decline();
    PagingMode mode{in.sregs.cr0, in.sregs.cr3, in.sregs.cr4, in.sregs.efer};
    uint8_t buf[8] = {};
    if (absl::Status r = ReadGuestVirtual(in.mem, mode, *ea, std::span(buf, fix.size)); !r.ok()) {
      return FixOutcome::Stop(absl::StrFormat("%s at %#x: operand %#x not readable (%s)", fix.text,
                                              in.regs.rip, *ea, r.message()));
    }
    std::memcpy(&value, buf, 8);
  }
  if (fix.size < 8) value &= (1ull << (8 * fix.size)) - 1;
  int count = __builtin_popcountll(value);
  if (!SetRegisterValue(in.regs, fix.dest, static_cast<uint64_t>(count))) {
    return FixOutcome::Decline();
  }
  constexpr uint64_t kArithFlags = 0x8d5;  // CF PF AF ZF SF OF
  constexpr uint64_t kRflagsZf = 1ull << 6;
  in.regs.rflags &= ~kArithFlags;
  if (value == 0) in.regs.rflags |= kRflagsZf;
  return FixOutcome::Retire();
}

}  // namespace tlbscope
