#pragma once

#include <linux/kvm.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "base/unique_mapping.h"
#include "vmm/kvm/system.h"

namespace tlbscope {

// One vCPU fd and its kvm_run mapping.
class Vcpu {
 public:
  Vcpu(int index, UniqueFd fd, UniqueMapping run)
      : index_(index), fd_(std::move(fd)), run_(std::move(run)) {}

  int index() const { return index_; }
  int fd() const { return fd_.get(); }
  kvm_run* run() const { return static_cast<kvm_run*>(run_.get()); }

  absl::StatusOr<kvm_regs> GetRegs() const;
  absl::Status SetRegs(const kvm_regs& regs);
  absl::StatusOr<kvm_sregs> GetSregs() const;
  absl::Status SetSregs(const kvm_sregs& sregs);
  absl::Status SetCpuid(const CpuidTable& cpuid);
  absl::StatusOr<kvm_mp_state> GetMpState() const;
  absl::Status SetMpState(uint32_t state);
  absl::Status SetGuestDebug(const kvm_guest_debug& dbg);
  absl::Status SetMsr(uint32_t index, uint64_t value);
  absl::Status GetEvents(kvm_vcpu_events* events) const;
  // KVM_GET_FPU / KVM_SET_FPU (x87, SSE registers and MXCSR).
  absl::Status GetFpu(kvm_fpu* fpu) const;
  absl::Status SetFpu(const kvm_fpu& fpu);
  // KVM_VCPU_TSC_OFFSET: guest TSC = host TSC + offset (no TSC scaling).
  absl::StatusOr<int64_t> TscOffset() const;
  absl::Status SetTscOffset(int64_t offset);
  absl::StatusOr<uint64_t> GetMsr(uint32_t index) const;
  absl::Status SetEvents(const kvm_vcpu_events& events);

  // One KVM_RUN. Returns true when it exited normally, false when a signal
  // interrupted it (EINTR: the kick, or immediate_exit); an error otherwise.
  absl::StatusOr<bool> Run();

 private:
  int index_;
  UniqueFd fd_;
  UniqueMapping run_;
};

}  // namespace tlbscope
