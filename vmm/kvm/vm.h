#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/kvm/vcpu.h"

namespace tlbscope {

// A KVM VM fd.
class Vm {
 public:
  static absl::StatusOr<Vm> Create(const KvmSystem& sys);

  int fd() const { return fd_.get(); }
  // KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2: PIC, IOAPIC, LAPICs and PIT in-kernel.
  absl::Status CreateIrqchipAndPit();
  // KVM_IRQ_LINE: drives GSI `irq` (the in-kernel PIC and IOAPIC pin) to `level`.
  absl::Status SetIrqLine(uint32_t irq, bool level);
  absl::Status MapMemory(uint32_t slot, uint64_t gpa, const GuestMemory& mem);
  absl::StatusOr<Vcpu> CreateVcpu(int index);

 private:
  Vm(UniqueFd fd, int run_size) : fd_(std::move(fd)), run_size_(run_size) {}
  UniqueFd fd_;
  int run_size_;
};

}  // namespace tlbscope
