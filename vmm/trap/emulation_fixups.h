#pragma once

// Emulation failures that are not tlbscope's traps. On hosts where KVM's
// instruction emulator runs guest kernel code (kvm_pvm), instructions it
// cannot emulate surface as KVM_EXIT_INTERNAL_ERROR with their bytes. The
// VMM decodes them (Capstone) and does what the CPU would have done where
// that can be done correctly: int3 raises #BP, cmpxchg16b is performed
// atomically on guest memory, popcnt, clac/stac, fwait, ld/stmxcsr and
// rd/wr{fs,gs}base are performed on the registers, an XSAVE-family
// instruction raises #UD when the guest's CPUID has no XSAVE (where it has,
// the VM stops, naming the instruction: the emulator cannot run it and the
// VMM does not emulate XSAVE state). Anything else stops the VM as before.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "vmm/kvm/guest_memory.h"
#include "vmm/trap/site_scanner.h"
#include "vmm/trap/trap_engine.h"
#include "vmm/vcpu/exit_dispatch.h"

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

// Counts of what was fixed, per kind (for the run's report).
struct FixupCounts {
  uint64_t breakpoints = 0, invalid_opcodes = 0, cmpxchg16b = 0, popcnt = 0, other = 0;
};

// Wraps the trap engine (may be null): the engine sees every trap exit
// first; emulation failures it does not claim are fixed here when possible.
class EmulationFixups : public TrapExitHandler {
 public:
  EmulationFixups(TrapExitHandler* inner, GuestMemory* mem, int num_vcpus)
      : inner_(inner), mem_(mem), counts_(num_vcpus) {}
  std::optional<ExitAction> OnTrapExit(Vcpu& vcpu) override;
  uint64_t sync_regs_mask() const override { return inner_ ? inner_->sync_regs_mask() : 0; }
  // After the vCPU threads have stopped.
  FixupCounts total() const;

 private:
  std::optional<ExitAction> Fix(Vcpu& vcpu);
  TrapExitHandler* inner_;
  GuestMemory* mem_;
  std::vector<FixupCounts> counts_;  // per vCPU, touched by its thread only
};

}  // namespace tlbscope
