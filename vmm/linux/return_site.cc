#include "vmm/linux/return_site.h"

#include <capstone/capstone.h>

#include <memory>

namespace tlbscope {
namespace {

struct InsnFree {
  void operator()(cs_insn* i) const { cs_free(i, 1); }
};

bool IsReturn(const cs_insn& insn, std::optional<uint64_t> thunk) {
  if (insn.id == X86_INS_RET) return insn.size == 1;  // c3 (not `ret imm16`)
  if (insn.id != X86_INS_JMP || !thunk || insn.detail == nullptr) return false;
  const cs_x86& x = insn.detail->x86;
  return x.op_count == 1 && x.operands[0].type == X86_OP_IMM &&
         static_cast<uint64_t>(x.operands[0].imm) == *thunk;
}

}  // namespace

std::vector<uint64_t> FindReturnSites(std::span<const uint8_t> code, uint64_t start,
                                      std::optional<uint64_t> return_thunk, bool* complete) {
  std::vector<uint64_t> out;
  *complete = false;
  csh h;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return out;
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  {
    std::unique_ptr<cs_insn, InsnFree> insn(cs_malloc(h));
    const uint8_t* p = code.data();
    size_t left = code.size();
    uint64_t at = start;
    while (left > 0 && cs_disasm_iter(h, &p, &left, &at, insn.get())) {
      if (IsReturn(*insn, return_thunk)) out.push_back(insn->address);
    }
    *complete = left == 0;
  }
  cs_close(&h);
  return out;
}

}  // namespace tlbscope
