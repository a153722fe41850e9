#include "vmm/linux/load_site.h"

#include "absl/strings/str_format.h"
#include "vmm/trap/capstone.h"
#include "vmm/trap/operands.h"

namespace tlbscope {
namespace {

// Where straight-line code ends: a call, jump or return.
bool EndsStraightLine(const cs_insn& insn) {
  for (uint8_t i = 0; i < insn.detail->groups_count; ++i) {
    uint8_t g = insn.detail->groups[i];
    if (g == CS_GRP_JUMP || g == CS_GRP_CALL || g == CS_GRP_RET || g == CS_GRP_IRET ||
        g == CS_GRP_INT) {
      return true;
    }
  }
  return false;
}

bool Is32BitGpr(x86_reg r) { return r >= X86_REG_EAX && r <= X86_REG_R15D; }

std::optional<LoadSite> AsLoad32(const cs_insn& insn, int64_t disp) {
  if (insn.id != X86_INS_MOV) return std::nullopt;
  const cs_x86& x = insn.detail->x86;
  if (x.op_count != 2 || x.operands[0].type != X86_OP_REG || x.operands[1].type != X86_OP_MEM ||
      x.operands[1].size != 4) {
    return std::nullopt;
  }
  const x86_op_mem& m = x.operands[1].mem;
  if (m.disp != disp || m.index != X86_REG_INVALID || m.segment != X86_REG_INVALID ||
      m.base == X86_REG_INVALID || m.base == X86_REG_RIP) {
    return std::nullopt;
  }
  kvm_regs probe{};
  if (!RegisterValue(probe, m.base) || !Is32BitGpr(x.operands[0].reg)) return std::nullopt;
  LoadSite s;
  s.address = insn.address;
  s.length = static_cast<uint8_t>(insn.size);
  s.dest = x.operands[0].reg;
  s.base = m.base;
  s.disp = m.disp;
  s.text = absl::StrFormat("%s %s", insn.mnemonic, insn.op_str);
  return s;
}

}  // namespace

std::optional<LoadSite> FindLoad32(std::span<const uint8_t> code, uint64_t function, int64_t disp) {
  Capstone cs;
  if (!cs.ok()) return std::nullopt;
  const uint8_t* p = code.data();
  size_t left = code.size();
  uint64_t at = function;
  while (cs.Next(&p, &left, &at)) {
    if (std::optional<LoadSite> s = AsLoad32(cs.insn(), disp)) return s;
    if (EndsStraightLine(cs.insn())) return std::nullopt;
  }
  return std::nullopt;
}

std::optional<uint32_t> LoadedValue(const LoadSite& site, const kvm_regs& regs) {
  std::optional<uint64_t> v = RegisterValue(regs, site.dest);
  if (!v) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

}  // namespace tlbscope
