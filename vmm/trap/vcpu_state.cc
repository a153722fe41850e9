#include "vmm/trap/vcpu_state.h"

namespace tlbscope {

absl::StatusOr<kvm_regs*> VcpuStateView::regs() {
  if (synced_) return &vcpu_.run()->s.regs.regs;
  if (!regs_) {
    absl::StatusOr<kvm_regs> r = vcpu_.GetRegs();
    if (!r.ok()) return r.status();
    regs_ = *r;
  }
  return &*regs_;
}

absl::StatusOr<kvm_sregs*> VcpuStateView::sregs() {
  if (synced_) return &vcpu_.run()->s.regs.sregs;
  if (!sregs_) {
    absl::StatusOr<kvm_sregs> s = vcpu_.GetSregs();
    if (!s.ok()) return s.status();
    sregs_ = *s;
  }
  return &*sregs_;
}

absl::Status VcpuStateView::Load(kvm_regs** r, kvm_sregs** s) {
  absl::StatusOr<kvm_regs*> regs_or = regs();
  if (!regs_or.ok()) return regs_or.status();
  absl::StatusOr<kvm_sregs*> sregs_or = sregs();
  if (!sregs_or.ok()) return sregs_or.status();
  *r = *regs_or;
  *s = *sregs_or;
  return absl::OkStatus();
}

absl::Status VcpuStateView::FlushGuestTlb() {
  absl::StatusOr<kvm_sregs*> s = sregs();
  if (!s.ok()) return s.status();
  kvm_sregs toggled = **s;
  toggled.cr4 ^= 1ull << 7;  // CR4.PGE
  if (absl::Status st = vcpu_.SetSregs(toggled); !st.ok()) return st;
  return vcpu_.SetSregs(**s);
}

absl::Status VcpuStateView::Commit() {
  if (synced_) {
    if (regs_dirty_) vcpu_.run()->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
    if (sregs_dirty_) vcpu_.run()->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
    return absl::OkStatus();
  }
  if (sregs_dirty_) {
    if (absl::Status s = vcpu_.SetSregs(*sregs_); !s.ok()) return s;
  }
  if (regs_dirty_) return vcpu_.SetRegs(*regs_);
  return absl::OkStatus();
}

}  // namespace tlbscope
