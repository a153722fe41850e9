#pragma once

#include <linux/kvm.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "vmm/kvm/kvm_abi.h"

namespace tlbscope {

// A CPUID table in KVM's kvm_cpuid2 layout (see kvm_abi.h).
struct CpuidTable {
  std::unique_ptr<KvmCpuid2> storage = std::make_unique<KvmCpuid2>();
  KvmCpuid2* get() const { return storage.get(); }
  kvm_cpuid_entry2* Find(uint32_t function, uint32_t index) const;
  CpuidTable Clone() const;
};

// /dev/kvm.
class KvmSystem {
 public:
  static absl::StatusOr<KvmSystem> Open(const std::string& path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  // KVM_CHECK_EXTENSION; 0 when absent.
  int CheckExtension(int cap) const;
  absl::StatusOr<int> VcpuMmapSize() const;
  absl::StatusOr<CpuidTable> SupportedCpuid() const;
  absl::StatusOr<UniqueFd> CreateVmFd() const;

 private:
  explicit KvmSystem(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace tlbscope
