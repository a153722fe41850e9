#pragma once

// What an instruction KVM's emulator could not run is, decoded with
// Capstone: the action that does what the CPU would have done, and its
// operands.

#include <capstone/capstone.h>

#include <cstdint>
#include <span>
#include <string>

#include "vmm/trap/site_scanner.h"

namespace tlbscope {

struct FailureFix {
  enum class Action {
    kNone,
    kInjectBreakpoint,
    kInjectInvalidOpcode,
    kCmpxchg16b,
    kPopcnt,
    kFwait,  // #NM if CR0.TS and CR0.MP, else nothing (no x87 exception is pending
             // that the VMM could see)
    kLdmxcsr,
    kStmxcsr,  // MXCSR through KVM_GET/SET_FPU, the operand in `mem`
    kClac,     // RFLAGS.AC = 0 (SMAP)
    kStac,     // RFLAGS.AC = 1
    kReadFsBase,
    kReadGsBase,
    kWriteFsBase,
    kWriteGsBase,  // FSGSBASE, `dest`/`source`
  };
  Action action = Action::kNone;
  uint8_t length = 0;
  std::string text;                  // "int3", "cmpxchg16b xmmword ptr [rdi]"
  MemOperand mem;                    // kCmpxchg16b; kPopcnt from memory
  x86_reg dest = X86_REG_INVALID;    // kPopcnt
  x86_reg source = X86_REG_INVALID;  // kPopcnt from a register
  uint8_t size = 0;                  // kPopcnt operand bytes
};

// Decodes the failing instruction (`bits`: 16, 32 or 64) and says what to do.
FailureFix ClassifyEmulationFailure(std::span<const uint8_t> bytes, uint64_t rip, int bits);

}  // namespace tlbscope
