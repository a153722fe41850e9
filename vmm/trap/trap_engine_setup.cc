// The trap engine's setup: which sites get a debug register or an int3,
// and the debug state each vCPU starts with.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "vmm/trap/trap_engine.h"

namespace tlbscope {
namespace {

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

bool IsHardware(TrapStrategy s) {
  return s == TrapStrategy::kHwBreakpointEmulate || s == TrapStrategy::kHwBreakpointStep;
}

}  // namespace

TrapEngine::TrapEngine(const HostCaps& caps, std::vector<TlbSite> sites, GuestMemory* mem,
                       int num_vcpus, BreakpointPolicy policy)
    : caps_(caps),
      plan_(PlanTraps(caps)),
      sites_(std::move(sites)),
      mem_(mem),
      per_vcpu_(num_vcpus),
      probe_points_(mem) {
  // Sites that need a breakpoint (an instruction the CPU model lacks traps
  // by itself), best first.
  std::vector<const TlbSite*> want;
  for (const TlbSite& s : sites_) {
    if (plan_.For(s.kind) != TrapStrategy::kEmulationFailure) want.push_back(&s);
  }
  std::stable_sort(want.begin(), want.end(),
                   [](const TlbSite* a, const TlbSite* b) { return Priority(*a) < Priority(*b); });
  const int debug_registers = std::min(caps_.hw_breakpoints, 4);
  for (const TlbSite* s : want) {
    bool hw = policy != BreakpointPolicy::kSoftwareOnly && IsHardware(plan_.For(s->kind)) &&
              static_cast<int>(armed_.size()) < debug_registers;
    bool sw = policy != BreakpointPolicy::kHardwareOnly && plan_.software_breakpoints &&
              s->paddr.has_value();
    if (hw) {
      armed_.push_back(s);
    } else if (sw) {
      sw_.push_back({s, *s->paddr, 0});
    } else {
      uncovered_.push_back(s);
    }
  }
}

void TrapEngine::PatchSoftwareBreakpoints() {
  std::vector<SwSite> kept;
  for (SwSite& sw : sw_) {
    absl::StatusOr<uint8_t> byte = mem_->ReadObject<uint8_t>(sw.paddr);
    if (!byte.ok() || *byte != sw.site->bytes.front() || !mem_->WriteObject(sw.paddr, kInt3).ok()) {
      uncovered_.push_back(sw.site);
      continue;
    }
    sw.original = *byte;
    kept.push_back(sw);
  }
  sw_ = std::move(kept);
}

std::vector<const TlbSite*> TrapEngine::patched() const {
  std::vector<const TlbSite*> out;
  for (size_t i = 0; i < sw_.size() && i < first_deferred_; ++i) out.push_back(sw_[i].site);
  return out;
}

uint64_t TrapEngine::sync_regs_mask() const {
  return caps_.cap_sync_regs ? (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS) : 0;
}

kvm_guest_debug TrapEngine::DebugState(const PerVcpu& pv, int disarmed_slot,
                                       bool single_step) const {
  kvm_guest_debug d{};
  d.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
  if (HasSoftwareBreakpoints() && !plan_.int3_is_emulation_failure) {
    d.control |= KVM_GUESTDBG_USE_SW_BP;
  }
  // The window covers code that runs with interrupts disabled (it closes
  // when RFLAGS.IF is set), so no interrupt frame can save the stepping TF
  // on the guest's stack; BLOCKIRQ keeps NMIs and the like out too.
  // Exception frames and pushf are scrubbed in WindowAdvance.
  if (pv.window_left > 0) {
    d.control |= KVM_GUESTDBG_SINGLESTEP;
    if (caps_.cap_blockirq) d.control |= KVM_GUESTDBG_BLOCKIRQ;
  }
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

bool TrapEngine::HasSoftwareBreakpoints() const { return !sw_.empty() || probe_client_ != nullptr; }

absl::Status TrapEngine::Arm(Vcpu& vcpu) {
  const PerVcpu& pv = per_vcpu_[vcpu.index()];
  if (armed_.empty() && (!HasSoftwareBreakpoints() || plan_.int3_is_emulation_failure) &&
      pv.window_left == 0) {
    return absl::OkStatus();
  }
  return vcpu.SetGuestDebug(DebugState(pv, -1, false));
}

}  // namespace tlbscope
