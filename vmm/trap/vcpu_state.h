#pragma once

#include <optional>

#include "absl/status/statusor.h"
#include "vmm/kvm/vcpu.h"

namespace tlbscope {

// The registers of a vCPU stopped in an exit. With KVM_CAP_SYNC_REGS they
// live in kvm_run (no ioctl to read, a dirty bit to write back on the next
// KVM_RUN); without it, GET/SET ioctls.
class VcpuStateView {
 public:
  VcpuStateView(Vcpu& vcpu, bool synced) : vcpu_(vcpu), synced_(synced) {}
  absl::StatusOr<kvm_regs*> regs();
  absl::StatusOr<kvm_sregs*> sregs();
  // Both at once, for code that needs both.
  absl::Status Load(kvm_regs** regs, kvm_sregs** sregs);
  void MarkRegsDirty() { regs_dirty_ = true; }
  void MarkSregsDirty() { sregs_dirty_ = true; }
  absl::Status Commit();
  // Flushes the whole guest TLB, globals included: KVM reloads the guest MMU
  // on a CR4 change, so CR4.PGE is toggled and restored (what Linux's
  // __native_tlb_flush_global does in the guest). Two KVM_SET_SREGS.
  absl::Status FlushGuestTlb();
  Vcpu& vcpu() { return vcpu_; }

 private:
  Vcpu& vcpu_;
  bool synced_;
  std::optional<kvm_regs> regs_;
  std::optional<kvm_sregs> sregs_;
  bool regs_dirty_ = false, sregs_dirty_ = false;
};

}  // namespace tlbscope
