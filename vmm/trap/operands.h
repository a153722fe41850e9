#pragma once

#include <linux/kvm.h>

#include <optional>

#include "vmm/trap/site_scanner.h"

namespace tlbscope {

// Value of a Capstone x86 general-purpose register (64/32/16-bit forms)
// in `regs`; nullopt for anything else.
std::optional<uint64_t> RegisterValue(const kvm_regs& regs, x86_reg reg);

// Writes a general-purpose register as the CPU does: a 64-bit write, a
// 32-bit write zero-extended, a 16-bit write merged. False for others.
bool SetRegisterValue(kvm_regs& regs, x86_reg reg, uint64_t value);

// True when the vCPU executes 64-bit code (EFER.LMA and CS.L).
bool In64BitMode(const kvm_sregs& sregs);

// The linear address a memory operand of the instruction at `site` refers
// to, given the registers at that instruction: segment base + base +
// index * scale + displacement, RIP-relative from the next instruction,
// truncated to the address size.
std::optional<uint64_t> EffectiveAddress(const TlbSite& site, const kvm_regs& regs,
                                         const kvm_sregs& sregs);

}  // namespace tlbscope
