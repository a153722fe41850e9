#include "vmm/trap/trap_engine.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_format.h"
#include "vmm/trap/operands.h"
#include "vmm/trap/trap_handler.h"
#include "vmm/trap/vcpu_state.h"

namespace tlbscope {
namespace {

constexpr uint64_t kDr6BreakpointMask = 0xf;
constexpr uint64_t kDr7Reserved = 0x400;  // bit 10 reads as 1

// Which sites get a debug register when there are more than four: the
// kernel's TLB management first, boot and the PTI entry switches last.
int Priority(const TlbSite& s) {
  switch (s.klass) {
    case SiteClass::kFlush:
      return 0;
    case SiteClass::kSwitchMm:
      return 1;
    case SiteClass::kOther:
      return 2;
    case SiteClass::kEntryPti:
      return 3;
    case SiteClass::kBoot:
      return 4;
  }
  return 5;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TrapEngine::TrapEngine(const HostCaps& caps, std::vector<TlbSite> sites, const GuestMemory* mem,
                       int num_vcpus)
    : caps_(caps),
      plan_(PlanTraps(caps)),
      sites_(std::move(sites)),
      mem_(mem),
      per_vcpu_(num_vcpus) {
  std::vector<const TlbSite*> want;
  for (const TlbSite& s : sites_) {
    TrapStrategy st = plan_.For(s.kind);
    if (st == TrapStrategy::kHwBreakpointEmulate || st == TrapStrategy::kHwBreakpointStep) {
      want.push_back(&s);
    } else if (st == TrapStrategy::kNone) {
      uncovered_.push_back(&s);
    }
  }
  std::stable_sort(want.begin(), want.end(),
                   [](const TlbSite* a, const TlbSite* b) { return Priority(*a) < Priority(*b); });
  for (const TlbSite* s : want) {
    if (static_cast<int>(armed_.size()) < std::min(caps_.hw_breakpoints, 4)) {
      armed_.push_back(s);
    } else {
      uncovered_.push_back(s);
    }
  }
}

uint64_t TrapEngine::sync_regs_mask() const {
  return caps_.cap_sync_regs ? (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS) : 0;
}

kvm_guest_debug TrapEngine::DebugState(int disarmed_slot, bool single_step) const {
  kvm_guest_debug d{};
  d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
  if (single_step) {
    d.control |= KVM_GUESTDBG_SINGLESTEP;
    // No interrupt may slip in between the breakpoint and the step.
    if (caps_.cap_blockirq) d.control |= KVM_GUESTDBG_BLOCKIRQ;
  }
  uint64_t dr7 = kDr7Reserved;
  for (size_t i = 0; i < armed_.size(); ++i) {
    d.arch.debugreg[i] = armed_[i]->address;
    if (static_cast<int>(i) != disarmed_slot) dr7 |= 2ull << (2 * i);  // Gi, execute, 1 byte
  }
  d.arch.debugreg[7] = dr7;
  return d;
}

absl::Status TrapEngine::Arm(Vcpu& vcpu) {
  if (armed_.empty()) return absl::OkStatus();
  return vcpu.SetGuestDebug(DebugState(-1, false));
}

ExitAction TrapEngine::Stop(std::string message) const {
  return ExitAction::Stop(StopRequest{StopReason::kUnhandledExit, 0, std::move(message)});
}

void TrapEngine::Record(int vcpu, TrapEvent e, const TlbSite& site, TrapStrategy strategy) {
  PerVcpu& pv = per_vcpu_[vcpu];
  e.vcpu = vcpu;
  e.vcpu_seq = pv.events.size();
  e.host_ns = NowNs();
  e.rip = site.address;
  e.symbol = site.symbol.empty() ? "" : absl::StrFormat("%s+%#x", site.symbol, site.symbol_offset);
  e.site_class = site.klass;
  e.strategy = strategy;
  pv.events.push_back(std::move(e));
}

std::optional<ExitAction> TrapEngine::OnTrapExit(Vcpu& vcpu) {
  kvm_run* run = vcpu.run();
  if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) return OnEmulationFailure(vcpu);
  if (run->exit_reason != KVM_EXIT_DEBUG) return std::nullopt;
  if (per_vcpu_[vcpu.index()].stepping_slot >= 0) return OnStepDone(vcpu);
  uint64_t pc = run->debug.arch.pc;
  for (size_t i = 0; i < armed_.size(); ++i) {
    if (armed_[i]->address == pc && (run->debug.arch.dr6 & kDr6BreakpointMask & (1ull << i))) {
      return OnBreakpoint(vcpu, static_cast<int>(i));
    }
  }
  return std::nullopt;
}

std::optional<ExitAction> TrapEngine::OnBreakpoint(Vcpu& vcpu, int slot) {
  const TlbSite& site = *armed_[slot];
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  TrapStrategy planned = plan_.For(site.kind);
  TrapOutcome out;
  switch (site.kind) {
    case TlbInsn::kMovCr3:
      out = HandleCr3Write(site, state, planned == TrapStrategy::kHwBreakpointEmulate);
      break;
    case TlbInsn::kInvlpg:
      out = HandleInvlpg(site, state);
      break;
    case TlbInsn::kInvpcid:
      out = HandleInvpcid(site, state, *mem_, /*emulate=*/false);
      break;
  }
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  switch (out.next) {
    case TrapOutcome::Next::kResume: {
      Record(vcpu.index(), std::move(out.event), site, TrapStrategy::kHwBreakpointEmulate);
      if (absl::Status s = state.Commit(); !s.ok()) return Stop(std::string(s.message()));
      return ExitAction::Continue();
    }
    case TrapOutcome::Next::kStepOver: {
      if (absl::Status s = vcpu.SetGuestDebug(DebugState(slot, true)); !s.ok()) {
        return Stop(std::string(s.message()));
      }
      pv.stepping_slot = slot;
      pv.step_end = site.address + site.length;
      out.event.strategy = TrapStrategy::kHwBreakpointStep;
      pv.pending = std::move(out.event);
      return ExitAction::Continue();
    }
    default:
      return Stop(
          absl::StrFormat("%s at %#x: %s", TlbInsnName(site.kind), site.address, out.message));
  }
}

std::optional<ExitAction> TrapEngine::OnStepDone(Vcpu& vcpu) {
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  const TlbSite& site = *armed_[pv.stepping_slot];
  pv.stepping_slot = -1;
  if (absl::Status s = vcpu.SetGuestDebug(DebugState(-1, false)); !s.ok()) {
    return Stop(std::string(s.message()));
  }
  // Only an instruction that completed counts; if the step ended elsewhere
  // (a fault on it), it will trap again when the guest retries it.
  if (vcpu.run()->debug.arch.pc == pv.step_end && pv.pending) {
    TrapEvent e = std::move(*pv.pending);
    if (e.kind == TlbInsn::kMovCr3) {
      // What the CPU actually loaded.
      VcpuStateView state(vcpu, sync_regs_mask() != 0);
      if (absl::StatusOr<kvm_sregs*> s = state.sregs(); s.ok())
        e.new_cr3 = (*s)->cr3 | (e.new_cr3 & (1ull << 63));
    }
    Record(vcpu.index(), std::move(e), site, TrapStrategy::kHwBreakpointStep);
  }
  pv.pending.reset();
  return ExitAction::Continue();
}

std::optional<ExitAction> TrapEngine::OnEmulationFailure(Vcpu& vcpu) {
  kvm_run* run = vcpu.run();
  if (plan_.invpcid != TrapStrategy::kEmulationFailure ||
      run->emulation_failure.suberror != KVM_INTERNAL_ERROR_EMULATION ||
      !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
    return std::nullopt;
  }
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  absl::StatusOr<kvm_regs*> regs = state.regs();
  absl::StatusOr<kvm_sregs*> sregs = state.sregs();
  if (!regs.ok() || !sregs.ok()) return std::nullopt;
  std::span<const uint8_t> bytes(run->emulation_failure.insn_bytes,
                                 std::min<uint32_t>(run->emulation_failure.insn_size, 16));
  std::optional<TlbSite> site = DecodeTlbInsn(bytes, (*regs)->rip, In64BitMode(**sregs));
  if (!site || site->kind != TlbInsn::kInvpcid) return std::nullopt;
  // Name it after the kernel's own site when the scan found one there.
  for (const TlbSite& s : sites_) {
    if (s.address == site->address) {
      site->symbol = s.symbol;
      site->symbol_offset = s.symbol_offset;
      site->klass = s.klass;
    }
  }
  TrapOutcome out = HandleInvpcid(*site, state, *mem_, /*emulate=*/true);
  switch (out.next) {
    case TrapOutcome::Next::kResume: {
      Record(vcpu.index(), std::move(out.event), *site, TrapStrategy::kEmulationFailure);
      if (out.flush_tlb) {
        if (absl::Status s = state.FlushGuestTlb(); !s.ok()) return Stop(std::string(s.message()));
      }
      if (absl::Status s = state.Commit(); !s.ok()) return Stop(std::string(s.message()));
      return ExitAction::Continue();
    }
    case TrapOutcome::Next::kInjectGp: {
      Record(vcpu.index(), std::move(out.event), *site, TrapStrategy::kEmulationFailure);
      kvm_vcpu_events ev{};
      if (absl::Status s = vcpu.GetEvents(&ev); !s.ok()) return Stop(std::string(s.message()));
      ev.exception.injected = 1;
      ev.exception.nr = 13;
      ev.exception.has_error_code = 1;
      ev.exception.error_code = 0;
      ev.flags = 0;
      if (absl::Status s = vcpu.SetEvents(ev); !s.ok()) return Stop(std::string(s.message()));
      return ExitAction::Continue();
    }
    default:
      return Stop(absl::StrFormat("invpcid at %#x: %s", site->address, out.message));
  }
}

}  // namespace tlbscope
