#include "vmm/trap/operands.h"

namespace tlbscope {
namespace {

struct RegInfo {
  x86_reg r64, r32, r16;
  __u64 kvm_regs::*field;
};

const RegInfo kRegs[] = {
    {X86_REG_RAX, X86_REG_EAX, X86_REG_AX, &kvm_regs::rax},
    {X86_REG_RBX, X86_REG_EBX, X86_REG_BX, &kvm_regs::rbx},
    {X86_REG_RCX, X86_REG_ECX, X86_REG_CX, &kvm_regs::rcx},
    {X86_REG_RDX, X86_REG_EDX, X86_REG_DX, &kvm_regs::rdx},
    {X86_REG_RSI, X86_REG_ESI, X86_REG_SI, &kvm_regs::rsi},
    {X86_REG_RDI, X86_REG_EDI, X86_REG_DI, &kvm_regs::rdi},
    {X86_REG_RBP, X86_REG_EBP, X86_REG_BP, &kvm_regs::rbp},
    {X86_REG_RSP, X86_REG_ESP, X86_REG_SP, &kvm_regs::rsp},
    {X86_REG_R8, X86_REG_R8D, X86_REG_R8W, &kvm_regs::r8},
    {X86_REG_R9, X86_REG_R9D, X86_REG_R9W, &kvm_regs::r9},
    {X86_REG_R10, X86_REG_R10D, X86_REG_R10W, &kvm_regs::r10},
    {X86_REG_R11, X86_REG_R11D, X86_REG_R11W, &kvm_regs::r11},
    {X86_REG_R12, X86_REG_R12D, X86_REG_R12W, &kvm_regs::r12},
    {X86_REG_R13, X86_REG_R13D, X86_REG_R13W, &kvm_regs::r13},
    {X86_REG_R14, X86_REG_R14D, X86_REG_R14W, &kvm_regs::r14},
    {X86_REG_R15, X86_REG_R15D, X86_REG_R15W, &kvm_regs::r15},
};

bool Is32BitReg(x86_reg reg) {
  for (const RegInfo& r : kRegs) {
    if (reg == r.r32) return true;
  }
  return false;
}

uint64_t SegmentBase(const kvm_sregs& s, x86_reg seg) {
  switch (seg) {
    case X86_REG_FS:
      return s.fs.base;
    case X86_REG_GS:
      return s.gs.base;
    case X86_REG_ES:
      return s.es.base;
    case X86_REG_CS:
      return s.cs.base;
    case X86_REG_SS:
      return s.ss.base;
    default:
      return s.ds.base;
  }
}

}  // namespace

bool SetRegisterValue(kvm_regs& regs, x86_reg reg, uint64_t value) {
  for (const RegInfo& r : kRegs) {
    if (reg == r.r64) {
      regs.*r.field = value;
    } else if (reg == r.r32) {
      regs.*r.field = value & 0xffffffffull;
    } else if (reg == r.r16) {
      regs.*r.field = (regs.*r.field & ~0xffffull) | (value & 0xffff);
    } else {
      continue;
    }
    return true;
  }
  return false;
}

std::optional<uint64_t> RegisterValue(const kvm_regs& regs, x86_reg reg) {
  for (const RegInfo& r : kRegs) {
    if (reg == r.r64) return regs.*r.field;
    if (reg == r.r32) return regs.*r.field & 0xffffffffull;
    if (reg == r.r16) return regs.*r.field & 0xffffull;
  }
  if (reg == X86_REG_RIP) return regs.rip;
  if (reg == X86_REG_EIP) return regs.rip & 0xffffffffull;
  return std::nullopt;
}

bool In64BitMode(const kvm_sregs& sregs) { return (sregs.efer & (1ull << 10)) && sregs.cs.l; }

std::optional<uint64_t> EffectiveAddress(const TlbSite& site, const kvm_regs& regs,
                                         const kvm_sregs& sregs) {
  const MemOperand& m = site.mem;
  uint64_t ea = static_cast<uint64_t>(m.disp);
  bool addr32 = !In64BitMode(sregs);
  if (m.base != X86_REG_INVALID) {
    if (m.base == X86_REG_RIP || m.base == X86_REG_EIP) {
      ea += regs.rip + site.length;  // RIP-relative: from the next instruction
    } else {
      std::optional<uint64_t> b = RegisterValue(regs, m.base);
      if (!b) return std::nullopt;
      ea += *b;
      addr32 |= Is32BitReg(m.base);  // the 0x67 address-size prefix
    }
  }
  if (m.index != X86_REG_INVALID) {
    std::optional<uint64_t> i = RegisterValue(regs, m.index);
    if (!i) return std::nullopt;
    ea += *i * static_cast<uint64_t>(m.scale);
  }
  if (addr32) ea &= 0xffffffffull;
  // In 64-bit mode only FS and GS have bases; elsewhere every segment does.
  if (In64BitMode(sregs)) {
    if (m.segment == X86_REG_FS || m.segment == X86_REG_GS) ea += SegmentBase(sregs, m.segment);
  } else {
    ea = (ea + SegmentBase(sregs, m.segment)) & 0xffffffffull;
  }
  return ea;
}

}  // namespace tlbscope
