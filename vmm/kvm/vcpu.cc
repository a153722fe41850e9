#include "vmm/kvm/vcpu.h"

#include <sys/ioctl.h>

#include <cerrno>

#include "absl/strings/str_format.h"
#include "vmm/kvm/ioctl.h"

namespace tlbscope {

absl::StatusOr<kvm_regs> Vcpu::GetRegs() const {
  kvm_regs regs{};
  absl::StatusOr<int> r = KVM_IOCTL(fd(), KVM_GET_REGS, &regs);
  if (!r.ok()) return r.status();
  return regs;
}

absl::Status Vcpu::SetRegs(const kvm_regs& regs) {
  return KVM_IOCTL(fd(), KVM_SET_REGS, &regs).status();
}

absl::StatusOr<kvm_sregs> Vcpu::GetSregs() const {
  kvm_sregs sregs{};
  absl::StatusOr<int> r = KVM_IOCTL(fd(), KVM_GET_SREGS, &sregs);
  if (!r.ok()) return r.status();
  return sregs;
}

absl::Status Vcpu::SetSregs(const kvm_sregs& sregs) {
  return KVM_IOCTL(fd(), KVM_SET_SREGS, &sregs).status();
}

absl::Status Vcpu::SetCpuid(const CpuidTable& cpuid) {
  return CheckIoctl(fd(), kKvmSetCpuid2, "KVM_SET_CPUID2", cpuid.get()).status();
}

absl::StatusOr<kvm_mp_state> Vcpu::GetMpState() const {
  kvm_mp_state mp{};
  absl::StatusOr<int> r = KVM_IOCTL(fd(), KVM_GET_MP_STATE, &mp);
  if (!r.ok()) return r.status();
  return mp;
}

absl::Status Vcpu::SetMpState(uint32_t state) {
  kvm_mp_state mp{.mp_state = state};
  return KVM_IOCTL(fd(), KVM_SET_MP_STATE, &mp).status();
}

absl::Status Vcpu::SetGuestDebug(const kvm_guest_debug& dbg) {
  return KVM_IOCTL(fd(), KVM_SET_GUEST_DEBUG, &dbg).status();
}

absl::Status Vcpu::SetMsr(uint32_t index, uint64_t value) {
  KvmMsrs1 msrs{};
  msrs.nmsrs = 1;
  msrs.entries[0].index = index;
  msrs.entries[0].data = value;
  absl::StatusOr<int> r = CheckIoctl(fd(), kKvmSetMsrs, "KVM_SET_MSRS", &msrs);
  if (!r.ok()) return r.status();
  if (*r != 1) return absl::InternalError("KVM_SET_MSRS set 0 of 1 MSRs");
  return absl::OkStatus();
}

absl::Status Vcpu::GetEvents(kvm_vcpu_events* events) const {
  return KVM_IOCTL(fd(), KVM_GET_VCPU_EVENTS, events).status();
}

absl::Status Vcpu::GetFpu(kvm_fpu* fpu) const { return KVM_IOCTL(fd(), KVM_GET_FPU, fpu).status(); }

absl::Status Vcpu::SetFpu(const kvm_fpu& fpu) {
  return KVM_IOCTL(fd(), KVM_SET_FPU, &fpu).status();
}

absl::Status Vcpu::SetEvents(const kvm_vcpu_events& events) {
  return KVM_IOCTL(fd(), KVM_SET_VCPU_EVENTS, &events).status();
}

absl::StatusOr<int64_t> Vcpu::TscOffset() const {
  int64_t offset = 0;
  kvm_device_attr attr{};
  attr.group = KVM_VCPU_TSC_CTRL;
  attr.attr = KVM_VCPU_TSC_OFFSET;
  attr.addr = reinterpret_cast<uint64_t>(&offset);
  absl::StatusOr<int> r = KVM_IOCTL(fd(), KVM_GET_DEVICE_ATTR, &attr);
  if (!r.ok()) return r.status();
  return offset;
}

absl::Status Vcpu::SetTscOffset(int64_t offset) {
  kvm_device_attr attr{};
  attr.group = KVM_VCPU_TSC_CTRL;
  attr.attr = KVM_VCPU_TSC_OFFSET;
  attr.addr = reinterpret_cast<uint64_t>(&offset);
  return KVM_IOCTL(fd(), KVM_SET_DEVICE_ATTR, &attr).status();
}

absl::StatusOr<uint64_t> Vcpu::GetMsr(uint32_t index) const {
  KvmMsrs1 msrs{};
  msrs.nmsrs = 1;
  msrs.entries[0].index = index;
  absl::StatusOr<int> r = CheckIoctl(fd(), kKvmGetMsrs, "KVM_GET_MSRS", &msrs);
  if (!r.ok()) return r.status();
  if (*r != 1)
    return absl::InternalError(absl::StrFormat("KVM_GET_MSRS read 0 of 1 MSRs (%#x)", index));
  return msrs.entries[0].data;
}

absl::StatusOr<bool> Vcpu::Run() {
  // Not TryIoctl: EINTR here is the stop/pause kick and must reach the caller.
  int ret = ::ioctl(fd(), KVM_RUN, 0);
  if (ret == 0) return true;
  if (errno == EINTR || errno == EAGAIN) return false;
  return ErrnoStatus("KVM_RUN", errno);
}

}  // namespace tlbscope
