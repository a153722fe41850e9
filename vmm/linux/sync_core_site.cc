#include "vmm/linux/sync_core_site.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "vmm/trap/capstone.h"

namespace tlbscope {
namespace {

constexpr uint8_t kSerialize[] = {0x0f, 0x01, 0xe8};

bool IsMovFromSs(const cs_insn& insn) {
  if (insn.id != X86_INS_MOV || insn.detail == nullptr) return false;
  const cs_x86& x = insn.detail->x86;
  return x.op_count == 2 && x.operands[0].type == X86_OP_REG && x.operands[1].type == X86_OP_REG &&
         x.operands[1].reg == X86_REG_SS;
}

}  // namespace

std::vector<SyncCoreSite> FindSyncCoreSites(std::span<const uint8_t> code, uint64_t start,
                                            bool* complete) {
  std::vector<SyncCoreSite> out;
  if (complete != nullptr) *complete = false;
  Capstone cs;
  if (!cs.ok()) return out;
  const uint8_t* p = code.data();
  size_t left = code.size();
  uint64_t at = start;
  while (left > 0) {
    if (cs.Next(&p, &left, &at)) {
      const cs_insn& insn = cs.insn();
      if (IsMovFromSs(insn)) {
        out.push_back({insn.address, absl::StrFormat("%s %s", insn.mnemonic, insn.op_str)});
      }
      continue;
    }
    if (left < sizeof(kSerialize) || !std::equal(kSerialize, kSerialize + 3, p)) break;
    out.push_back({at, "serialize"});
    p += 3;
    left -= 3;
    at += 3;
  }
  if (complete != nullptr) *complete = left == 0;
  return out;
}

}  // namespace tlbscope
