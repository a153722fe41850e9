#include "vmm/linux/skip_emulation.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope {

uint64_t RegisterByNumber(const kvm_regs& r, uint8_t n) {
  const uint64_t by_number[16] = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
                                  r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
  return by_number[n & 15];
}

namespace {

// rip = [rsp], rsp += 8, the 8 bytes read through the page walk (they may
// cross a page).
absl::Status EmulateRet(kvm_regs& regs, GuestMemory& mem, const PagingMode& mode) {
  uint8_t bytes[8];
  for (uint64_t done = 0; done < 8;) {
    uint64_t at = regs.rsp + done;
    uint64_t n = std::min<uint64_t>(8 - done, 4096 - (at & 0xfff));
    absl::StatusOr<uint64_t> pa = TranslateGva(mem, mode, at);
    if (!pa.ok()) return pa.status();
    if (!mem.Contains(*pa, n)) {
      return absl::OutOfRangeError(absl::StrFormat("ret at %#x: stack outside memory", at));
    }
    (void)mem.Read(*pa, std::span<uint8_t>(bytes + done, n));
    done += n;
  }
  uint64_t target;
  std::memcpy(&target, bytes, 8);
  regs.rip = target;
  regs.rsp += 8;
  return absl::OkStatus();
}

}  // namespace

absl::Status EmulateSkip(const introspect::EntryPlan& plan, kvm_regs& regs, GuestMemory& mem,
                         const PagingMode& mode) {
  using Skip = introspect::EntryPlan::Skip;
  if (plan.skip == Skip::kEmulateNop) {
    regs.rip += plan.length;
    return absl::OkStatus();
  }
  if (plan.skip == Skip::kEmulateRet) return EmulateRet(regs, mem, mode);
  if (plan.skip != Skip::kEmulatePush) {
    return absl::FailedPreconditionError(absl::StrFormat("%#x: stepped", plan.address));
  }
  // The value pushed is the register before the push (push rsp too).
  uint64_t value = RegisterByNumber(regs, plan.push_reg);
  uint64_t slot = regs.rsp - 8;
  uint8_t bytes[8];
  std::memcpy(bytes, &value, 8);
  // Nothing is written unless all of it can be.
  if (absl::Status s = WriteGuestVirtual(mem, mode, slot, bytes); !s.ok()) {
    return absl::Status(s.code(), absl::StrFormat("push at %#x: %s", slot, s.message()));
  }
  regs.rsp = slot;
  regs.rip += plan.length;
  return absl::OkStatus();
}

}  // namespace tlbscope
