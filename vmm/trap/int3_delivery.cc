#include "vmm/trap/int3_delivery.h"

#include <array>
#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/operands.h"

namespace tlbscope {
namespace {

constexpr int kBreakpointVector = 3;
constexpr uint8_t kInt3 = 0xcc;
constexpr uint64_t kCr4Fred = 1ull << 32;
constexpr uint64_t kRflagsTf = 1ull << 8, kRflagsIf = 1ull << 9, kRflagsNt = 1ull << 14,
                   kRflagsRf = 1ull << 16;
constexpr uint8_t kInterruptGate = 0xe, kTrapGate = 0xf;

// A 64-bit IDT gate (SDM vol. 3A figure 6-8).
struct Gate {
  uint64_t offset;
  uint16_t selector;
  uint8_t ist, type;
  bool present;
};

Gate DecodeGate(const std::array<uint8_t, 16>& b) {
  auto u16 = [&b](int i) { return static_cast<uint64_t>(b[i] | (b[i + 1] << 8)); };
  auto u32 = [&](int i) { return u16(i) | (u16(i + 2) << 16); };
  Gate g;
  g.offset = u16(0) | (u16(6) << 16) | (u32(8) << 32);
  g.selector = static_cast<uint16_t>(u16(2));
  g.ist = b[4] & 7;
  g.type = b[5] & 0xf;
  g.present = (b[5] & 0x80) != 0;
  return g;
}

absl::Status Refuse(std::string why) {
  return absl::FailedPreconditionError("int3 not delivered by tlbscope: " + why);
}

absl::StatusOr<Gate> ReadBreakpointGate(const kvm_sregs& sregs, const GuestMemory& mem,
                                        const PagingMode& mode) {
  if (sregs.idt.limit < kBreakpointVector * 16 + 15) return Refuse("IDT too short for vector 3");
  std::array<uint8_t, 16> raw{};
  if (absl::Status s =
          ReadGuestVirtual(mem, mode, sregs.idt.base + kBreakpointVector * 16, std::span(raw));
      !s.ok()) {
    return Refuse(absl::StrFormat("IDT gate 3 unreadable: %s", s.message()));
  }
  Gate g = DecodeGate(raw);
  if (!g.present || (g.type != kInterruptGate && g.type != kTrapGate)) {
    return Refuse(
        absl::StrFormat("IDT gate 3 is not a present interrupt or trap gate (type %#x)", g.type));
  }
  if (g.selector != sregs.cs.selector) {
    return Refuse(absl::StrFormat("IDT gate 3 selector %#x is not the current CS %#x", g.selector,
                                  sregs.cs.selector));
  }
  return g;
}

// The stack the frame goes on: the IST entry the gate names (TSS offset
// 0x24 + 8 * (n - 1)), else the current one (no privilege change).
absl::StatusOr<uint64_t> FrameStack(const Gate& g, const kvm_regs& regs, const kvm_sregs& sregs,
                                    const GuestMemory& mem, const PagingMode& mode) {
  if (g.ist == 0) return regs.rsp & ~0xfull;
  uint64_t ist = 0;
  uint64_t at = sregs.tr.base + 0x24 + 8 * (g.ist - 1);
  if (sregs.tr.limit < 0x24u + 8u * g.ist - 1) return Refuse("TSS too short for the gate's IST");
  if (absl::Status s =
          ReadGuestVirtual(mem, mode, at, std::span(reinterpret_cast<uint8_t*>(&ist), sizeof ist));
      !s.ok()) {
    return Refuse(absl::StrFormat("TSS IST%d unreadable: %s", g.ist, s.message()));
  }
  return ist & ~0xfull;
}

}  // namespace

absl::Status DeliverKernelInt3(kvm_regs& regs, const kvm_sregs& sregs, GuestMemory& mem) {
  if (!In64BitMode(sregs)) return Refuse("not in 64-bit mode");
  if ((sregs.cs.selector & 3) != 0 || sregs.cs.dpl != 0) return Refuse("not at CPL 0");
  if (sregs.cr4 & kCr4Fred) return Refuse("FRED delivers events");
  const PagingMode mode{sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer};
  uint8_t insn = 0;
  if (!ReadGuestVirtual(mem, mode, regs.rip, std::span(&insn, 1)).ok() || insn != kInt3) {
    return Refuse(absl::StrFormat("no int3 at RIP %#x", regs.rip));
  }
  absl::StatusOr<Gate> gate = ReadBreakpointGate(sregs, mem, mode);
  if (!gate.ok()) return gate.status();
  absl::StatusOr<uint64_t> top = FrameStack(*gate, regs, sregs, mem, mode);
  if (!top.ok()) return top.status();
  // SS, RSP, RFLAGS, CS, RIP from the top down; RIP after the int3 (#BP is
  // a trap).
  const uint64_t frame[5] = {regs.rip + 1, sregs.cs.selector, regs.rflags, regs.rsp,
                             sregs.ss.selector};
  uint64_t rsp = *top - sizeof frame;
  if (absl::Status s = WriteGuestVirtual(
          mem, mode, rsp, std::span(reinterpret_cast<const uint8_t*>(frame), sizeof frame));
      !s.ok()) {
    return Refuse(absl::StrFormat("frame at %#x: %s", rsp, s.message()));
  }
  regs.rsp = rsp;
  regs.rflags &= ~(kRflagsTf | kRflagsNt | kRflagsRf);
  if (gate->type == kInterruptGate) regs.rflags &= ~kRflagsIf;
  regs.rip = gate->offset;
  return absl::OkStatus();
}

}  // namespace tlbscope
