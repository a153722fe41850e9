// The single-step validation window of the trap engine (--step-window).

#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/operands.h"
#include "vmm/trap/trap_engine.h"

namespace tlbscope {
namespace {
constexpr uint64_t kRflagsIf = 1ull << 9;
}  // namespace

void TrapEngine::SetStepWindow(uint64_t instructions) {
  window_ = caps_.single_step_works ? instructions : 0;
  for (PerVcpu& pv : per_vcpu_) pv.window_left = window_;
}

std::optional<TrapEngine::StepWindowReport> TrapEngine::step_window(int vcpu) const {
  if (window_ == 0) return std::nullopt;
  StepWindowReport r = per_vcpu_[vcpu].window;
  if (r.ended.empty()) {
    r.ended = "still open when the VM stopped";
    r.trapped = per_vcpu_[vcpu].trapped;
  }
  return r;
}

void TrapEngine::EndWindow(PerVcpu& pv, std::string why) {
  pv.window_left = 0;
  pv.window.ended = std::move(why);
  pv.window.trapped = pv.trapped;
}

namespace {

// Clears TF (bit 8) in the RFLAGS image at guest linear address `at`.
bool ClearSavedTf(GuestMemory& mem, const PagingMode& mode, uint64_t at) {
  absl::StatusOr<uint64_t> gpa = TranslateGva(mem, mode, at);
  if (!gpa.ok()) return false;
  absl::StatusOr<uint16_t> low = mem.ReadObject<uint16_t>(*gpa);
  return low.ok() && mem.WriteObject<uint16_t>(*gpa, *low & ~0x100).ok();
}

// When `rip` is the handler of an IDT vector, the step delivered an
// interrupt or exception, which pushed RFLAGS -- with the stepping TF -- in
// its 64-bit frame. Returns false if that frame could not be fixed.
bool ScrubInterruptFrame(GuestMemory& mem, const PagingMode& mode, const kvm_sregs& s, uint64_t rip,
                         uint64_t rsp) {
  std::array<uint8_t, 4096> idt{};
  size_t size = std::min<size_t>(s.idt.limit + 1, idt.size()) & ~size_t{15};
  if (size == 0 || !ReadGuestVirtual(mem, mode, s.idt.base, std::span(idt).first(size)).ok()) {
    return true;  // no IDT to deliver through
  }
  for (size_t v = 0; v < size / 16; ++v) {
    const uint8_t* g = idt.data() + v * 16;
    if (!(g[5] & 0x80)) continue;  // not present
    uint64_t lo16 = g[0] | (g[1] << 8), mid16 = g[6] | (g[7] << 8);
    uint32_t hi32;
    std::memcpy(&hi32, g + 8, 4);
    uint64_t handler = lo16 | (mid16 << 16) | (static_cast<uint64_t>(hi32) << 32);
    if (handler != rip) continue;
    // Vectors that push an error code sit one slot further from RFLAGS.
    bool error_code = v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
    return ClearSavedTf(mem, mode, rsp + (error_code ? 24 : 16));
  }
  return true;
}

}  // namespace

void TrapEngine::WindowAdvance(Vcpu& vcpu, VcpuStateView& state) {
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  if (pv.window_left == 0) return;
  ++pv.window.stepped;
  if (pv.window_next) CountInsn(pv.window.seen, *pv.window_next);
  pv.window_next.reset();
  if (--pv.window_left == 0) return EndWindow(pv, "instruction budget used up");
  absl::StatusOr<kvm_regs*> regs = state.regs();
  absl::StatusOr<kvm_sregs*> sregs = state.sregs();
  if (!regs.ok() || !sregs.ok()) return EndWindow(pv, "registers unreadable");
  const kvm_sregs& s = **sregs;
  int bits = In64BitMode(s) ? 64 : (!(s.cr0 & 1) || !s.cs.db) ? 16 : 32;
  uint64_t rip = (*regs)->rip;
  PagingMode mode{s.cr0, s.cr3, s.cr4, s.efer};
  if (pv.window_fix_pushf) {
    // The pushf just stored RFLAGS with our TF (bit 8) set; the guest must
    // not find it there when it pops the value later.
    pv.window_fix_pushf = false;
    uint64_t at = bits == 64 ? (*regs)->rsp : s.ss.base + ((*regs)->rsp & 0xffffffff);
    if (!ClearSavedTf(*mem_, mode, at))
      return EndWindow(pv, "cannot clear TF from a pushed RFLAGS");
  }
  if (bits == 64 && !ScrubInterruptFrame(*mem_, mode, s, rip, (*regs)->rsp)) {
    return EndWindow(pv, "cannot clear TF from an exception frame");
  }
  if ((*regs)->rflags & kRflagsIf) {
    return EndWindow(pv, absl::StrFormat("interrupts enabled at %#x", rip));
  }

  if (int sw = FindSoftwareSite(rip); sw >= 0) {
    pv.window_next = sw_[sw].site->kind;  // memory holds our int3 there
    return;
  }
  uint64_t linear = bits == 64 ? rip : s.cs.base + rip;
  std::array<uint8_t, 15> bytes{};
  size_t n = bytes.size();
  while (n > 0 && !ReadGuestVirtual(*mem_, mode, linear, std::span(bytes).first(n)).ok()) --n;
  std::optional<StepInsn> insn = DecodeStepInsn(std::span(bytes).first(n), rip, bits);
  if (!insn) return EndWindow(pv, absl::StrFormat("undecodable instruction at %#x", linear));
  pv.window_next = insn->tlb;
  if (insn->returns_to_user) return EndWindow(pv, "next instruction returns to user mode");
  if (insn->ends_window) {
    return EndWindow(pv,
                     absl::StrFormat("next instruction (at %#x) cannot be stepped safely", rip));
  }
  if (insn->is_hlt) return EndWindow(pv, absl::StrFormat("hlt at %#x", rip));
  pv.window_fix_pushf = insn->is_pushf;
  if (insn->is_iret && bits != 16) {
    // iret pops RIP, then CS: stop before it drops to CPL3.
    uint64_t at = (*regs)->rsp + (bits == 64 ? 8 : 4);
    if (bits == 32) at = s.ss.base + (at & 0xffffffff);
    uint64_t cs = 0;
    std::span<uint8_t> out(reinterpret_cast<uint8_t*>(&cs), bits == 64 ? 8 : 4);
    if (!ReadGuestVirtual(*mem_, mode, at, out).ok() || (cs & 3) == 3) {
      EndWindow(pv, "next instruction returns to user mode");
    }
  }
}

std::optional<ExitAction> TrapEngine::OnWindowStep(Vcpu& vcpu) {
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  WindowAdvance(vcpu, state);
  absl::Status s = pv.window_left == 0 ? StopStepping(vcpu, state) : absl::OkStatus();
  if (s.ok()) s = state.Commit();
  if (!s.ok()) return Stop(std::string(s.message()));
  return ExitAction::Continue();
}

}  // namespace tlbscope
