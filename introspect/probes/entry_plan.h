#pragma once
// Where a probe's breakpoint goes in a kernel function, and how the VMM
// gets past the instruction under it without single-stepping when that is
// exact.
//
// Linux rewrites the first bytes of its functions at run time: with ftrace
// the 5-byte `call __fentry__` becomes a NOP at boot and a call to a
// trampoline when tracing is on, and ftrace patches with int3 itself. So the
// breakpoint never goes on that site: it goes on the next instruction, where
// the stack pointer and the argument registers are still the entry's (the
// call has returned; the trampolines preserve the arguments). An endbr64
// (IBT) is a 4-byte no-op: emulated. A `push reg` is emulated (rsp -= 8,
// store). Anything else is stepped.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace tlbscope::introspect {

struct EntryPlan {
  // kEmulateRet: a breakpoint on a function's return (`ret`, or `jmp
  // __x86_return_thunk`, which returns): rip = [rsp], rsp += 8.
  enum class Skip { kEmulateNop, kEmulatePush, kEmulateRet, kStep };
  uint64_t address = 0;  // where the breakpoint goes
  Skip skip = Skip::kStep;
  uint8_t length = 0;         // bytes of the instruction under it (0 for kStep: unknown)
  uint8_t push_reg = 0;       // kEmulatePush: register number (0 rax .. 15 r15)
  bool after_ftrace = false;  // moved past the ftrace site
  std::string Describe() const;
};

// `code` = the function's first bytes (at least 16) at `function`;
// `fentry` = __fentry__'s address when the kernel has one.
EntryPlan PlanEntry(uint64_t function, std::span<const uint8_t> code,
                    std::optional<uint64_t> fentry);

}  // namespace tlbscope::introspect
