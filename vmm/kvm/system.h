#pragma once

#include <linux/kvm.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "vmm/kvm/unique_fd.h"

namespace tlbscope {

// Owns a buffer big enough for kvm_cpuid2 with its entries.
struct CpuidTable {
  std::unique_ptr<uint8_t[]> storage;
  kvm_cpuid2* get() const { return reinterpret_cast<kvm_cpuid2*>(storage.get()); }
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
