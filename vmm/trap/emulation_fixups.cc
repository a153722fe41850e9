#include "vmm/trap/emulation_fixups.h"

#include "absl/strings/str_format.h"
#include "vmm/trap/fixup.h"
#include "vmm/trap/int3_delivery.h"
#include "vmm/trap/operands.h"
#include "vmm/trap/vcpu_state.h"

namespace tlbscope {
namespace {

int CodeBits(const kvm_sregs& s) {
  if (In64BitMode(s)) return 64;
  return s.cs.db ? 32 : 16;
}

ExitAction StopWith(std::string message) {
  return ExitAction::Stop(StopRequest{StopReason::kInternalError, 0, std::move(message)});
}

absl::Status Inject(Vcpu& vcpu, uint32_t vector, std::optional<uint32_t> error_code) {
  kvm_vcpu_events ev{};
  if (absl::Status s = vcpu.GetEvents(&ev); !s.ok()) return s;
  ev.exception.injected = 1;
  ev.exception.nr = static_cast<uint8_t>(vector);
  ev.exception.has_error_code = error_code.has_value();
  ev.exception.error_code = error_code.value_or(0);
  ev.flags = 0;
  return vcpu.SetEvents(ev);
}

bool UsesMxcsr(FailureFix::Action a) {
  return a == FailureFix::Action::kLdmxcsr || a == FailureFix::Action::kStmxcsr;
}

// Carries out what the fix function decided: the new registers (and
// segment bases, MXCSR), then the exception.
absl::Status Apply(Vcpu& vcpu, VcpuStateView& state, const FixOutcome& o, kvm_fpu& fpu,
                   uint32_t mxcsr) {
  if (o.mxcsr_changed) {
    fpu.mxcsr = mxcsr;
    if (absl::Status s = vcpu.SetFpu(fpu); !s.ok()) return s;
  }
  if (o.retire) {
    state.MarkRegsDirty();
    if (o.sregs_changed) state.MarkSregsDirty();
    if (absl::Status s = state.Commit(); !s.ok()) return s;
  }
  if (o.vector) return Inject(vcpu, *o.vector, o.error_code);
  return absl::OkStatus();
}

}  // namespace

std::optional<ExitAction> EmulationFixups::OnTrapExit(Vcpu& vcpu) {
  if (inner_ != nullptr) {
    if (std::optional<ExitAction> a = inner_->OnTrapExit(vcpu)) return a;
  }
  kvm_run* run = vcpu.run();
  if (run->exit_reason == KVM_EXIT_DEBUG && run->debug.arch.exception == kBreakpointVector) {
    return GiveBackInt3(vcpu);
  }
  if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
      run->emulation_failure.suberror != KVM_INTERNAL_ERROR_EMULATION ||
      !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) ||
      run->emulation_failure.insn_size == 0) {
    return std::nullopt;
  }
  return Fix(vcpu);
}

// An int3 none of tlbscope's breakpoints own: the guest's own (Linux's
// text_poke_bp and its boot-time int3 self-test, kprobes, a debugger).
// With KVM_GUESTDBG_USE_SW_BP (VMX/SVM hosts) every int3 exits here. A
// kernel-mode one gets its #BP delivered here, as the CPU would; else (user
// mode, an IDT this does not handle) it is injected through KVM, #BP being
// a soft exception: KVM moves RIP past the int3 as it injects it.
std::optional<ExitAction> EmulationFixups::GiveBackInt3(Vcpu& vcpu) {
  if (DeliveredInt3(vcpu)) {
    ++counts_[vcpu.index()].breakpoints;
    ++counts_[vcpu.index()].breakpoints_delivered;
    return ExitAction::Continue();
  }
  if (absl::Status s = Inject(vcpu, kBreakpointVector, std::nullopt); !s.ok()) {
    return StopWith(absl::StrFormat("vcpu %d: the guest's own int3 at %#x cannot be given back: %s",
                                    vcpu.index(), vcpu.run()->debug.arch.pc, s.message()));
  }
  ++counts_[vcpu.index()].breakpoints;
  return ExitAction::Continue();
}

bool EmulationFixups::DeliveredInt3(Vcpu& vcpu) {
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  kvm_regs* regs = nullptr;
  kvm_sregs* sregs = nullptr;
  if (!state.Load(&regs, &sregs).ok()) return false;
  kvm_regs delivered = *regs;
  if (!DeliverKernelInt3(delivered, *sregs, *mem_).ok()) return false;
  *regs = delivered;
  state.MarkRegsDirty();
  // The frame is in guest memory already: a failed commit cannot be undone
  // by injecting as well.
  return state.Commit().ok();
}

std::optional<ExitAction> EmulationFixups::Fix(Vcpu& vcpu) {
  kvm_run* run = vcpu.run();
  VcpuStateView state(vcpu, sync_regs_mask() != 0);
  kvm_regs* regs = nullptr;
  kvm_sregs* sregs = nullptr;
  if (!state.Load(&regs, &sregs).ok()) return std::nullopt;
  std::span<const uint8_t> bytes(run->emulation_failure.insn_bytes,
                                 std::min<uint32_t>(run->emulation_failure.insn_size, 16));
  FailureFix fix = ClassifyEmulationFailure(bytes, regs->rip, CodeBits(*sregs));
  FixFunction fn = FixFor(fix.action);
  if (fn == nullptr) return std::nullopt;
  kvm_fpu fpu{};
  if (UsesMxcsr(fix.action)) {
    if (absl::Status s = vcpu.GetFpu(&fpu); !s.ok()) return StopWith(std::string(s.message()));
  }
  uint32_t mxcsr = fpu.mxcsr;
  FixInput in{*regs, *sregs, *mem_, mxcsr};
  FixOutcome o = fn(fix, in);
  if (o.declined) return std::nullopt;
  if (o.stop) return StopWith(*o.stop);
  if (o.retire) regs->rip += fix.length;
  if (absl::Status s = Apply(vcpu, state, o, fpu, mxcsr); !s.ok()) {
    return StopWith(std::string(s.message()));
  }
  Count(fix, vcpu.index());
  return ExitAction::Continue();
}

void EmulationFixups::Count(const FailureFix& fix, int vcpu) {
  FixupCounts& counts = counts_[vcpu];
  switch (fix.action) {
    case FailureFix::Action::kInjectBreakpoint:
      ++counts.breakpoints;
      break;
    case FailureFix::Action::kInjectInvalidOpcode:
      ++counts.invalid_opcodes;
      break;
    case FailureFix::Action::kCmpxchg16b:
      ++counts.cmpxchg16b;
      break;
    case FailureFix::Action::kPopcnt:
      ++counts.popcnt;
      break;
    default:
      ++counts.other;
      break;
  }
}

FixupCounts EmulationFixups::total() const {
  FixupCounts t;
  for (const FixupCounts& c : counts_) {
    t.breakpoints += c.breakpoints;
    t.breakpoints_delivered += c.breakpoints_delivered;
    t.invalid_opcodes += c.invalid_opcodes;
    t.cmpxchg16b += c.cmpxchg16b;
    t.popcnt += c.popcnt;
    t.other += c.other;
  }
  return t;
}

}  // namespace tlbscope
