#include "vmm/trap/trap_event.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope {

Cr3Fields DecodeCr3(uint64_t raw, bool pcide) {
  return Cr3Fields{
      .root = raw & 0x000ffffffffff000ull,
      .pcid = static_cast<uint16_t>(pcide ? raw & 0xfff : 0),
      .noflush = (raw >> 63) & 1,
      .lam_u57 = (raw >> 61) & 1,
      .lam_u48 = (raw >> 62) & 1,
  };
}

void CountInsn(TlbCounts& c, TlbInsn kind) {
  switch (kind) {
    case TlbInsn::kMovCr3:
      ++c.cr3_writes;
      break;
    case TlbInsn::kInvlpg:
      ++c.invlpgs;
      break;
    case TlbInsn::kInvpcid:
      ++c.invpcids;
      break;
  }
}

std::string FormatEvent(const TrapEvent& e) {
  std::string head = absl::StrFormat("vcpu %d #%d %-7s rip %#x %s [%s%s]", e.vcpu, e.vcpu_seq,
                                     TlbInsnName(e.kind), e.rip, e.symbol.empty() ? "?" : e.symbol,
                                     TrapStrategyName(e.strategy), e.emulated ? ", emulated" : "");
  switch (e.kind) {
    case TlbInsn::kMovCr3: {
      Cr3Fields f = DecodeCr3(e.new_cr3, e.pcide);
      return absl::StrFormat(
          "%s cr3 %#x -> %#x (root %#x pcid %d noflush %d lam_u57 %d lam_u48 %d)", head, e.old_cr3,
          e.new_cr3, f.root, f.pcid, f.noflush, f.lam_u57, f.lam_u48);
    }
    case TlbInsn::kInvlpg:
      return absl::StrFormat("%s addr %#x", head, e.linear);
    case TlbInsn::kInvpcid: {
      uint64_t pcid, addr;
      std::memcpy(&pcid, e.descriptor.data(), 8);
      std::memcpy(&addr, e.descriptor.data() + 8, 8);
      return absl::StrFormat("%s type %d descriptor@%#x {pcid %#x, addr %#x}", head, e.invpcid_type,
                             e.descriptor_gva, pcid, addr);
    }
  }
  return head;
}

}  // namespace tlbscope
