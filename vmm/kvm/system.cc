#include "vmm/kvm/system.h"

#include <fcntl.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/kvm/ioctl.h"

namespace tlbscope {
kvm_cpuid_entry2* CpuidTable::Find(uint32_t function, uint32_t index) const {
  KvmCpuid2* c = get();
  for (uint32_t i = 0; i < c->nent; ++i) {
    kvm_cpuid_entry2& e = c->entries[i];
    if (e.function != function) continue;
    if ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e.index != index) continue;
    return &e;
  }
  return nullptr;
}

CpuidTable CpuidTable::Clone() const {
  CpuidTable t;
  *t.storage = *storage;
  return t;
}

absl::StatusOr<KvmSystem> KvmSystem::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrFormat("open %s", path), errno);
  KvmSystem sys{UniqueFd(fd)};
  absl::StatusOr<int> version = KVM_IOCTL(sys.fd(), KVM_GET_API_VERSION, 0);
  if (!version.ok()) return version.status();
  if (*version != KVM_API_VERSION) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: KVM API version %d, expected %d", path, *version, KVM_API_VERSION));
  }
  return sys;
}

int KvmSystem::CheckExtension(int cap) const {
  IoctlResult r = TryIoctl(fd(), KVM_CHECK_EXTENSION, cap);
  return r.ret < 0 ? 0 : r.ret;
}

absl::StatusOr<int> KvmSystem::VcpuMmapSize() const {
  return KVM_IOCTL(fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
}

absl::StatusOr<CpuidTable> KvmSystem::SupportedCpuid() const {
  CpuidTable t;
  t.get()->nent = kMaxCpuidEntries;
  absl::StatusOr<int> r =
      CheckIoctl(fd(), kKvmGetSupportedCpuid, "KVM_GET_SUPPORTED_CPUID", t.get());
  if (!r.ok()) return r.status();
  return t;
}

absl::StatusOr<UniqueFd> KvmSystem::CreateVmFd() const {
  absl::StatusOr<int> r = KVM_IOCTL(fd(), KVM_CREATE_VM, 0);
  if (!r.ok()) return r.status();
  return UniqueFd(*r);
}

}  // namespace tlbscope
