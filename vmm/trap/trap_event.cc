#include "vmm/trap/trap_event.h"

namespace tlbscope {

Cr3Fields DecodeCr3(uint64_t raw, bool pcide) {
  return Cr3Fields{
      .root = raw & 0x000ffffffffff000ull,
      .pcid = static_cast<uint16_t>(pcide ? raw & 0xfff : 0),
      .noflush = ((raw >> 63) & 1) != 0,
      .lam_u57 = ((raw >> 61) & 1) != 0,
      .lam_u48 = ((raw >> 62) & 1) != 0,
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

}  // namespace tlbscope
