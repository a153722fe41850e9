#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/operands.h"
#include "vmm/trap/trap_handler.h"

namespace tlbscope {
namespace {

constexpr uint64_t kCr4Pcide = 1ull << 17;

bool Canonical(uint64_t va, bool la57) {
  int bits = la57 ? 57 : 48;
  int64_t s = static_cast<int64_t>(va << (64 - bits)) >> (64 - bits);
  return static_cast<uint64_t>(s) == va;
}

// SDM vol. 2, INVPCID: the #GP(0) conditions a CPU checks.
bool DescriptorFaults(uint64_t type, uint64_t pcid_qword, uint64_t addr, const kvm_sregs& s) {
  if (type > 3) return true;
  if (pcid_qword >> 12) return true;  // reserved bits 12..63
  bool pcide = s.cr4 & kCr4Pcide;
  if ((type == 0 || type == 1) && !pcide && (pcid_qword & 0xfff) != 0) return true;
  if (type == 0 && !Canonical(addr, s.cr4 & (1ull << 12))) return true;
  return false;
}

}  // namespace

TrapOutcome HandleInvpcid(const TlbSite& site, VcpuStateView& state, const GuestMemory& mem,
                          bool emulate) {
  TrapOutcome out;
  kvm_regs* regs;
  kvm_sregs* sregs;
  if (!LoadTrapRegs(state, &regs, &sregs, &out)) return out;
  std::optional<uint64_t> type = RegisterValue(*regs, site.reg);
  std::optional<uint64_t> gva = EffectiveAddress(site, *regs, *sregs);
  if (!type || !gva) {
    out.message = absl::StrFormat("cannot decode the operands of '%s'", site.text);
    return out;
  }
  if (!In64BitMode(*sregs)) *type &= 0xffffffffull;
  TrapEvent& e = out.event;
  e.kind = TlbInsn::kInvpcid;
  e.invpcid_type = *type;
  e.descriptor_gva = *gva;
  PagingMode mode{sregs->cr0, sregs->cr3, sregs->cr4, sregs->efer};
  if (absl::Status s = ReadGuestVirtual(mem, mode, *gva, e.descriptor); !s.ok()) {
    out.message =
        absl::StrFormat("INVPCID descriptor at %#x cannot be read: %s", *gva, s.message());
    return out;
  }
  if (!emulate) {
    out.next = TrapOutcome::Next::kStepOver;
    return out;
  }
  uint64_t pcid_qword, addr;
  std::memcpy(&pcid_qword, e.descriptor.data(), 8);
  std::memcpy(&addr, e.descriptor.data() + 8, 8);
  if (DescriptorFaults(*type, pcid_qword, addr, *sregs)) {
    out.next = TrapOutcome::Next::kInjectGp;
    return out;
  }
  // The engine flushes every TLB entry of every context (globals too):
  // at least what any INVPCID type asks.
  regs->rip += site.length;
  state.MarkRegsDirty();
  e.emulated = true;
  out.flush_tlb = true;
  out.next = TrapOutcome::Next::kResume;
  return out;
}

}  // namespace tlbscope
