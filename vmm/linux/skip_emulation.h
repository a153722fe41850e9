#pragma once

// Getting past the instruction under a probe's int3 without executing it,
// where the entry plan (introspect/probes/entry_plan.h) says that is exact:
// a no-op (endbr64, the 5-byte NOP) moves RIP on; `push reg` stores the
// register below RSP through the guest page walk, then moves RSP and RIP.

#include <linux/kvm.h>

#include "absl/status/status.h"
#include "introspect/probes/entry_plan.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/trap/guest_walk.h"

namespace tlbscope {

// `regs` is changed only when the Status is OK. kStep plans, and a push
// whose stack slot does not translate, are errors: the caller steps.
absl::Status EmulateSkip(const introspect::EntryPlan& plan, kvm_regs& regs, GuestMemory& mem,
                         const PagingMode& mode);

// General-purpose register `n` (0 rax, 1 rcx, ... 15 r15, the x86 encoding).
uint64_t RegisterByNumber(const kvm_regs& regs, uint8_t n);

}  // namespace tlbscope
