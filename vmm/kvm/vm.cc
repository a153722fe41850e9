#include "vmm/kvm/vm.h"

#include <sys/mman.h>

#include "absl/strings/str_format.h"
#include "vmm/kvm/ioctl.h"

namespace tlbscope {

absl::StatusOr<Vm> Vm::Create(const KvmSystem& sys) {
  absl::StatusOr<int> run_size = sys.VcpuMmapSize();
  if (!run_size.ok()) return run_size.status();
  absl::StatusOr<UniqueFd> fd = sys.CreateVmFd();
  if (!fd.ok()) return fd.status();
  return Vm(std::move(*fd), *run_size);
}

absl::Status Vm::CreateIrqchipAndPit() {
  absl::Status s = KVM_IOCTL(fd(), KVM_CREATE_IRQCHIP, 0).status();
  if (!s.ok()) return s;
  kvm_pit_config pit{};
  pit.flags = KVM_PIT_SPEAKER_DUMMY;
  return KVM_IOCTL(fd(), KVM_CREATE_PIT2, &pit).status();
}

absl::Status Vm::SetIrqLine(uint32_t irq, bool level) {
  kvm_irq_level l{};
  l.irq = irq;
  l.level = level ? 1 : 0;
  return KVM_IOCTL(fd(), KVM_IRQ_LINE, &l).status();
}

absl::Status Vm::MapMemory(uint32_t slot, uint64_t gpa, const GuestMemory& mem) {
  kvm_userspace_memory_region region{
      .slot = slot,
      .flags = 0,
      .guest_phys_addr = gpa,
      .memory_size = mem.size(),
      .userspace_addr = reinterpret_cast<uint64_t>(mem.host_base()),
  };
  return KVM_IOCTL(fd(), KVM_SET_USER_MEMORY_REGION, &region).status();
}

absl::StatusOr<Vcpu> Vm::CreateVcpu(int index) {
  absl::StatusOr<int> vcpu_fd = KVM_IOCTL(fd(), KVM_CREATE_VCPU, index);
  if (!vcpu_fd.ok()) return vcpu_fd.status();
  UniqueFd owned(*vcpu_fd);
  void* run = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, owned.get(), 0);
  if (run == MAP_FAILED) {
    return ErrnoStatus(absl::StrFormat("mmap of kvm_run for vcpu %d", index), errno);
  }
  return Vcpu(index, std::move(owned), UniqueMapping(run, run_size_));
}

}  // namespace tlbscope
