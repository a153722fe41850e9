#include "vmm/trap/trap_engine.h"

#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/operands.h"

namespace tlbscope {
namespace {

constexpr uint64_t kDr6BreakpointMask = 0xf;
constexpr uint64_t kDr6SingleStep = 1ull << 14;  // BS
constexpr uint64_t kRflagsTf = 1ull << 8;
constexpr uint32_t kBreakpointVector = 3;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::Status TrapEngine::StopStepping(Vcpu& vcpu, VcpuStateView& state) {
  if (absl::Status s = vcpu.SetGuestDebug(DebugState(per_vcpu_[vcpu.index()], -1, false));
      !s.ok()) {
    return s;
  }
  // KVM drops the TF it set for stepping only while RIP is where stepping
  // began; after a step or a window it stays in RFLAGS. Clear it (a guest
  // that single-steps itself is not supported while traced).
  absl::StatusOr<kvm_regs*> regs = state.regs();
  if (!regs.ok()) return regs.status();
  if ((*regs)->rflags & kRflagsTf) {
    (*regs)->rflags &= ~kRflagsTf;
    state.MarkRegsDirty();
  }
  return absl::OkStatus();
}

ExitAction TrapEngine::Stop(std::string message) const {
  return ExitAction::Stop(StopRequest{StopReason::kUnhandledExit, 0, std::move(message)});
}

void TrapEngine::Record(Vcpu& v, TrapEvent e, const TlbSite& site, TrapStrategy strategy) {
  const int vcpu = v.index();
  PerVcpu& pv = per_vcpu_[vcpu];
  if (!pv.tsc_offset_read) {
    // Constant unless the guest writes its TSC; KVM keeps no scaling here.
    pv.tsc_offset_read = true;
    if (absl::StatusOr<int64_t> off = v.TscOffset(); off.ok()) pv.tsc_offset = *off;
  }
  if (pv.tsc_offset) e.guest_tsc = __rdtsc() + static_cast<uint64_t>(*pv.tsc_offset);
  e.vcpu = vcpu;
  e.vcpu_seq = pv.recorded++;
  e.host_ns = NowNs();
  e.rip = site.address;
  e.symbol = site.symbol.empty() ? "" : absl::StrFormat("%s+%#x", site.symbol, site.symbol_offset);
  e.site_class = site.klass;
  e.strategy = strategy;
  if (e.kind == TlbInsn::kMovCr3 && root_probe_ != 0) {
    // Walk as a long-mode kernel would once paging is on with this root
    // (the first Linux CR3 write happens before paging is enabled).
    constexpr uint64_t kCr0PgPe = (1ull << 31) | 1, kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
    constexpr uint64_t kEferLmeLma = (1ull << 8) | (1ull << 10);
    uint64_t cr4 = kCr4Pae;
    if (absl::StatusOr<kvm_sregs> s = v.GetSregs(); s.ok()) cr4 |= s->cr4 & kCr4La57;
    PagingMode mode{kCr0PgPe, e.new_cr3 & ~(1ull << 63), cr4, kEferLmeLma};
    absl::StatusOr<uint64_t> pa = TranslateGva(*mem_, mode, root_probe_);
    e.entry_checked = true;
    e.entry_mapped = pa.ok();
    e.entry_paddr = pa.ok() ? *pa : 0;
  }
  CountInsn(pv.trapped, e.kind);
  if (e.site_class != SiteClass::kBoot) CountInsn(pv.trapped_after_boot, e.kind);
  if (on_event_) on_event_(e);
}

int TrapEngine::FindSoftwareSite(uint64_t rip) const {
  // A kernel also runs its code at the physical alias (Linux: startup_64
  // and the PVH entry before paging maps the kernel high): the int3 sits
  // at both.
  for (size_t i = 0; i < sw_.size(); ++i) {
    if ((sw_[i].site->address == rip || sw_[i].paddr == rip) && SiteLive(i)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::optional<ExitAction> TrapEngine::OnTrapExit(Vcpu& vcpu) {
  kvm_run* run = vcpu.run();
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
    const auto& ef = run->emulation_failure;
    bool has_bytes = ef.suberror == KVM_INTERNAL_ERROR_EMULATION &&
                     (ef.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
                     ef.insn_size > 0;
    if (has_bytes && ef.insn_bytes[0] == kInt3 && plan_.int3_is_emulation_failure) {
      VcpuStateView state(vcpu, sync_regs_mask() != 0);
      absl::StatusOr<kvm_regs*> regs = state.regs();
      if (!regs.ok()) return std::nullopt;
      int index = FindSoftwareSite((*regs)->rip);
      if (index >= 0) return OnSoftwareBreakpoint(vcpu, index, (*regs)->rip);
      if (std::optional<ExitAction> a = OnProbeInt3(vcpu, (*regs)->rip)) return a;
    }
    return OnEmulationFailure(vcpu);
  }
  if (run->exit_reason != KVM_EXIT_DEBUG) return std::nullopt;
  if (pv.stepping_probe) return OnProbeStepDone(vcpu);
  if (pv.stepping_slot >= 0 || pv.stepping_sw >= 0) return OnStepDone(vcpu);
  uint64_t pc = run->debug.arch.pc;
  if (run->debug.arch.exception == kBreakpointVector) {
    // The int3's own address, or the one after it, depending on the vendor.
    uint64_t at = pc;
    int index = FindSoftwareSite(at);
    if (index < 0) index = FindSoftwareSite(--at);
    if (index >= 0) return OnSoftwareBreakpoint(vcpu, index, at);
    if (std::optional<ExitAction> a = OnProbeInt3(vcpu, pc)) return a;
    return OnProbeInt3(vcpu, pc - 1);
  }
  for (size_t i = 0; i < armed_.size(); ++i) {
    if (armed_[i]->address == pc && (run->debug.arch.dr6 & kDr6BreakpointMask & (1ull << i))) {
      return OnHardwareBreakpoint(vcpu, static_cast<int>(i));
    }
  }
  if ((run->debug.arch.dr6 & kDr6SingleStep) && pv.window_left > 0) return OnWindowStep(vcpu);
  return std::nullopt;
}

TrapOutcome TrapEngine::Decode(const TlbSite& site, VcpuStateView& state, bool emulate_cr3) {
  switch (site.kind) {
    case TlbInsn::kMovCr3:
      return HandleCr3Write(site, state, emulate_cr3);
    case TlbInsn::kInvlpg:
      return HandleInvlpg(site, state);
    case TlbInsn::kInvpcid:
      return HandleInvpcid(site, state, *mem_,
                           /*emulate=*/plan_.invpcid == TrapStrategy::kEmulationFailure);
  }
  return TrapOutcome{};
}

// Applies a handler's outcome for the cases every path shares.
std::optional<ExitAction> TrapEngine::Finish(Vcpu& vcpu, VcpuStateView& state, TrapOutcome out,
                                             const TlbSite& site, TrapStrategy strategy) {
  switch (out.next) {
    case TrapOutcome::Next::kResume: {
      Record(vcpu, std::move(out.event), site, strategy);
      PerVcpu& pv = per_vcpu_[vcpu.index()];
      bool windowed = pv.window_left > 0;
      WindowAdvance(vcpu, state);  // the VMM ran it and moved RIP on
      if (windowed && pv.window_left == 0) {
        if (absl::Status s = StopStepping(vcpu, state); !s.ok()) {
          return Stop(std::string(s.message()));
        }
      }
      if (out.flush_tlb) {
        if (absl::Status s = state.FlushGuestTlb(); !s.ok()) return Stop(std::string(s.message()));
      }
      if (absl::Status s = state.Commit(); !s.ok()) return Stop(std::string(s.message()));
      return ExitAction::Continue();
    }
    case TrapOutcome::Next::kInjectGp: {
      out.event.faulted = true;
      Record(vcpu, std::move(out.event), site, strategy);
      PerVcpu& pv = per_vcpu_[vcpu.index()];
      if (pv.window_next) CountInsn(pv.window.seen, *pv.window_next);  // it ran, and faulted
      pv.window_next.reset();
      if (absl::Status s = state.Commit(); !s.ok()) return Stop(std::string(s.message()));
      return InjectGp(vcpu);
    }
    default:
      return Stop(
          absl::StrFormat("%s at %#x: %s", TlbInsnName(site.kind), site.address, out.message));
  }
}

std::optional<ExitAction> TrapEngine::InjectGp(Vcpu& vcpu) {
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

std::optional<ExitAction> TrapEngine::OnHardwareBreakpoint(Vcpu& vcpu, int slot) {
  const TlbSite& site = *armed_[slot];
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  TrapOutcome out = Decode(site, state, plan_.cr3 == TrapStrategy::kHwBreakpointEmulate);
  if (out.next != TrapOutcome::Next::kStepOver) {
    return Finish(vcpu, state, std::move(out), site, TrapStrategy::kHwBreakpointEmulate);
  }
  if (absl::Status s = vcpu.SetGuestDebug(DebugState(per_vcpu_[vcpu.index()], slot, true));
      !s.ok()) {
    return Stop(std::string(s.message()));
  }
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  pv.stepping_slot = slot;
  pv.step_end = site.address + site.length;
  pv.pending = std::move(out.event);
  return ExitAction::Continue();
}

std::optional<ExitAction> TrapEngine::OnSoftwareBreakpoint(Vcpu& vcpu, int index, uint64_t at) {
  const SwSite& sw = sw_[index];
  const TlbSite& site = *sw.site;
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  absl::StatusOr<kvm_regs*> regs = state.regs();
  if (!regs.ok()) return Stop(std::string(regs.status().message()));
  (*regs)->rip = at;  // wherever the exit left it, the site (or its alias) is where we are
  state.MarkRegsDirty();
  TrapOutcome out = Decode(site, state, /*emulate_cr3=*/true);
  if (out.next != TrapOutcome::Next::kStepOver) {
    return Finish(vcpu, state, std::move(out), site, TrapStrategy::kSwBreakpoint);
  }
  // The real instruction must run: lift the int3 with every other vCPU
  // parked, so none can pass the site unobserved. One stepper at a time; a
  // vCPU that finds another stepping retries the site (it will be parked).
  int expected = -1;
  if (!stepper_.compare_exchange_strong(expected, vcpu.index())) {
    if (absl::Status s = state.Commit(); !s.ok()) return Stop(std::string(s.message()));
    return ExitAction::Continue();
  }
  if (control_ != nullptr) control_->PauseOthers(vcpu.index());
  absl::Status s = mem_->WriteObject(sw.paddr, sw.original);
  if (s.ok()) s = vcpu.SetGuestDebug(DebugState(per_vcpu_[vcpu.index()], -1, true));
  if (s.ok()) s = state.Commit();
  if (!s.ok()) return Stop(std::string(s.message()));
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  pv.stepping_sw = index;
  pv.step_end = at + site.length;
  pv.pending = std::move(out.event);
  return ExitAction::Continue();
}

std::optional<ExitAction> TrapEngine::OnStepDone(Vcpu& vcpu) {
  PerVcpu& pv = per_vcpu_[vcpu.index()];
  bool sw = pv.stepping_sw >= 0;
  const TlbSite& site = sw ? *sw_[pv.stepping_sw].site : *armed_[pv.stepping_slot];
  if (sw) {
    absl::Status s = mem_->WriteObject(sw_[pv.stepping_sw].paddr, kInt3);
    if (!s.ok()) return Stop(std::string(s.message()));
  }
  pv.stepping_slot = -1;
  pv.stepping_sw = -1;
  bool completed = vcpu.run()->debug.arch.pc == pv.step_end;
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  if (completed) WindowAdvance(vcpu, state);
  absl::Status armed = pv.window_left > 0 ? vcpu.SetGuestDebug(DebugState(pv, -1, false))
                                          : StopStepping(vcpu, state);
  if (armed.ok()) armed = state.Commit();
  if (sw) {
    stepper_.store(-1);
    if (control_ != nullptr) control_->ResumeOthers(vcpu.index());
  }
  if (!armed.ok()) return Stop(std::string(armed.message()));
  // Only an instruction that completed counts; if the step ended elsewhere
  // (a fault on it), it will trap again when the guest retries it.
  if (completed && pv.pending) {
    TrapEvent e = std::move(*pv.pending);
    if (e.kind == TlbInsn::kMovCr3) {
      // What the CPU actually loaded (bit 63 is never stored in CR3).
      if (absl::StatusOr<kvm_sregs*> s = state.sregs(); s.ok()) {
        e.new_cr3 = (*s)->cr3 | (e.new_cr3 & (1ull << 63));
      }
    }
    Record(vcpu, std::move(e), site,
           sw ? TrapStrategy::kSwBreakpoint : TrapStrategy::kHwBreakpointStep);
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
  return Finish(vcpu, state, std::move(out), *site, TrapStrategy::kEmulationFailure);
}

}  // namespace tlbscope
