#include "vmm/trap/emulation_failure.h"

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
  csh h;
  cs_mode mode = bits == 64 ? CS_MODE_64 : bits == 32 ? CS_MODE_32 : CS_MODE_16;
  if (cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK) return fix;
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = cs_malloc(h);
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  uint64_t a = rip;
  if (cs_disasm_iter(h, &p, &n, &a, insn)) {
    fix.length = static_cast<uint8_t>(insn->size);
    fix.text = std::string(insn->mnemonic) + (insn->op_str[0] ? " " : "") + insn->op_str;
    Classify(*insn, &fix);
  }
  cs_free(insn, 1);
  cs_close(&h);
  return fix;
}

}  // namespace tlbscope
