#pragma once

// One pure function per instruction KVM's emulator could not run (see
// emulation_fixups.h): each reads and changes only what it is given (the
// registers, guest memory, MXCSR) and says what the CPU would do next. The
// caller (EmulationFixups) loads and commits the vCPU state, so each can be
// unit-tested on plain structs.

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <string>

#include "vmm/kvm/guest_memory.h"
#include "vmm/trap/emulation_failure.h"

namespace tlbscope {

struct FixInput {
  kvm_regs& regs;
  kvm_sregs& sregs;
  GuestMemory& mem;
  uint32_t& mxcsr;  // loaded from the FPU state only for ld/stmxcsr
};

// What happens after the fix: the instruction retires (RIP advances past
// it), an exception is raised, or the VM stops with a message. A #BP is a
// trap: it retires *and* raises. `declined`: not fixable here (the exit is
// handled as before the fixups existed).
struct FixOutcome {
  bool declined = false;
  bool retire = false;
  std::optional<uint32_t> vector;
  std::optional<uint32_t> error_code;
  std::optional<std::string> stop;
  bool sregs_changed = false;
  bool mxcsr_changed = false;

  static FixOutcome Retire() {
    FixOutcome o;
    o.retire = true;
    return o;
  }
  static FixOutcome Raise(uint32_t vector, std::optional<uint32_t> error_code = std::nullopt) {
    FixOutcome o;
    o.vector = vector;
    o.error_code = error_code;
    return o;
  }
  static FixOutcome Stop(std::string message) {
    FixOutcome o;
    o.stop = std::move(message);
    return o;
  }
  static FixOutcome Decline() {
    FixOutcome o;
    o.declined = true;
    return o;
  }
};

inline constexpr uint32_t kBreakpointVector = 3, kInvalidOpcodeVector = 6, kNoMathVector = 7,
                          kGpVector = 13;

FixOutcome FixInt3(const FailureFix& fix, FixInput& in);
FixOutcome FixXsaveFamily(const FailureFix& fix, FixInput& in);
FixOutcome FixFwait(const FailureFix& fix, FixInput& in);
FixOutcome FixClacStac(const FailureFix& fix, FixInput& in);
FixOutcome FixMxcsr(const FailureFix& fix, FixInput& in);
FixOutcome FixFsGsBase(const FailureFix& fix, FixInput& in);
FixOutcome FixPopcnt(const FailureFix& fix, FixInput& in);
FixOutcome FixCmpxchg16b(const FailureFix& fix, FixInput& in);

// The function for `fix.action`, nullptr for kNone.
using FixFunction = FixOutcome (*)(const FailureFix&, FixInput&);
FixFunction FixFor(FailureFix::Action action);

// The linear address of a fix's memory operand (at in.regs.rip).
std::optional<uint64_t> FixOperandAddress(const FailureFix& fix, const FixInput& in);

}  // namespace tlbscope
