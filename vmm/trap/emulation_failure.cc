#include "vmm/trap/emulation_failure.h"

#include "vmm/trap/capstone.h"

namespace tlbscope {
namespace {

using Action = FailureFix::Action;

void CopyMem(const cs_x86_op& op, MemOperand* mem) {
  mem->segment = op.mem.segment;
  mem->base = op.mem.base;
  mem->index = op.mem.index;
  mem->scale = op.mem.scale;
  mem->disp = op.mem.disp;
}

void ClassifyCmpxchg16b(const cs_x86& x, FailureFix* fix) {
  fix->action = Action::kCmpxchg16b;
  for (uint8_t i = 0; i < x.op_count; ++i) {
    if (x.operands[i].type == X86_OP_MEM) CopyMem(x.operands[i], &fix->mem);
  }
}

void ClassifyPopcnt(const cs_x86& x, FailureFix* fix) {
  if (x.op_count != 2 || x.operands[0].type != X86_OP_REG) return;
  fix->action = Action::kPopcnt;
  fix->dest = x.operands[0].reg;
  fix->size = x.operands[0].size;
  if (x.operands[1].type == X86_OP_REG) {
    fix->source = x.operands[1].reg;
  } else {
    CopyMem(x.operands[1], &fix->mem);
  }
}

void ClassifyMxcsr(unsigned id, const cs_x86& x, FailureFix* fix) {
  if (x.op_count != 1 || x.operands[0].type != X86_OP_MEM) return;
  fix->action = id == X86_INS_LDMXCSR ? Action::kLdmxcsr : Action::kStmxcsr;
  CopyMem(x.operands[0], &fix->mem);
  fix->size = 4;
}

void ClassifyFsGsBase(unsigned id, const cs_x86& x, FailureFix* fix) {
  if (x.op_count != 1 || x.operands[0].type != X86_OP_REG) return;
  bool fs = id == X86_INS_RDFSBASE || id == X86_INS_WRFSBASE;
  bool rd = id == X86_INS_RDFSBASE || id == X86_INS_RDGSBASE;
  fix->action = rd ? (fs ? Action::kReadFsBase : Action::kReadGsBase)
                   : (fs ? Action::kWriteFsBase : Action::kWriteGsBase);
  (rd ? fix->dest : fix->source) = x.operands[0].reg;
  fix->size = x.operands[0].size;
}

bool IsXsaveFamily(unsigned id) {
  switch (id) {
    case X86_INS_XSAVE:
    case X86_INS_XSAVEC:
    case X86_INS_XSAVEOPT:
    case X86_INS_XSAVES:
    case X86_INS_XSAVE64:
    case X86_INS_XSAVEC64:
    case X86_INS_XSAVEOPT64:
    case X86_INS_XSAVES64:
    case X86_INS_XRSTOR:
    case X86_INS_XRSTORS:
    case X86_INS_XRSTOR64:
    case X86_INS_XRSTORS64:
    case X86_INS_XGETBV:
    case X86_INS_XSETBV:
      return true;
    default:
      return false;
  }
}

void Classify(const cs_insn& insn, FailureFix* fix) {
  const cs_x86& x = insn.detail->x86;
  switch (insn.id) {
    case X86_INS_INT3:
      fix->action = Action::kInjectBreakpoint;
      return;
    case X86_INS_CMPXCHG16B:
      return ClassifyCmpxchg16b(x, fix);
    case X86_INS_POPCNT:
      return ClassifyPopcnt(x, fix);
    case X86_INS_LDMXCSR:
    case X86_INS_STMXCSR:
      return ClassifyMxcsr(insn.id, x, fix);
    case X86_INS_WAIT:
      fix->action = Action::kFwait;
      return;
    case X86_INS_CLAC:
      fix->action = Action::kClac;
      return;
    case X86_INS_STAC:
      fix->action = Action::kStac;
      return;
    case X86_INS_RDFSBASE:
    case X86_INS_RDGSBASE:
    case X86_INS_WRFSBASE:
    case X86_INS_WRGSBASE:
      return ClassifyFsGsBase(insn.id, x, fix);
    default:
      if (IsXsaveFamily(insn.id)) fix->action = Action::kInjectInvalidOpcode;
      return;
  }
}

}  // namespace

FailureFix ClassifyEmulationFailure(std::span<const uint8_t> bytes, uint64_t rip, int bits) {
  FailureFix fix;
  Capstone cs(bits);
  if (!cs.ok() || !cs.DecodeOne(bytes.data(), bytes.size(), rip)) return fix;
  const cs_insn& insn = cs.insn();
  fix.length = static_cast<uint8_t>(insn.size);
  fix.text = std::string(insn.mnemonic) + (insn.op_str[0] ? " " : "") + insn.op_str;
  Classify(insn, &fix);
  return fix;
}

}  // namespace tlbscope
