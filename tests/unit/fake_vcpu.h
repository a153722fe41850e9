#pragma once

// A Vcpu whose kvm_run is plain anonymous memory, its registers the synced
// copy (KVM_CAP_SYNC_REGS) a VcpuStateView reads and writes: trap handlers,
// the trap engine and probe clients run on it without KVM. It starts in
// 64-bit long mode with paging on and CR3 0x1000.

#include <linux/kvm.h>
#include <sys/mman.h>

#include <memory>

#include "vmm/kvm/vcpu.h"
#include "vmm/trap/vcpu_state.h"

namespace tlbscope::testing {

class FakeVcpu {
 public:
  static constexpr uint64_t kCr3 = 0x1000;
  explicit FakeVcpu(int index = 0) {
    void* p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    vcpu_ = std::make_unique<Vcpu>(index, UniqueFd(), UniqueMapping(p, kSize));
    kvm_sregs& s = sregs();
    s.cr0 = (1ull << 31) | 1;       // PG, PE
    s.cr4 = 1 << 5;                 // PAE
    s.efer = (1 << 8) | (1 << 10);  // LME, LMA
    s.cs.l = 1;
    s.cr3 = kCr3;
  }
  kvm_regs& regs() { return vcpu_->run()->s.regs.regs; }
  kvm_sregs& sregs() { return vcpu_->run()->s.regs.sregs; }
  kvm_run* run() { return vcpu_->run(); }
  Vcpu& vcpu() { return *vcpu_; }
  VcpuStateView View() { return VcpuStateView(*vcpu_, /*synced=*/true); }
  // The exit kvm_pvm gives for an int3 in kernel code.
  void Int3Exit() {
    kvm_run* r = vcpu_->run();
    r->exit_reason = KVM_EXIT_INTERNAL_ERROR;
    r->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
    r->emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
    r->emulation_failure.insn_size = 1;
    r->emulation_failure.insn_bytes[0] = 0xcc;
  }

 private:
  static constexpr size_t kSize = 16384;
  std::unique_ptr<Vcpu> vcpu_;
};

}  // namespace tlbscope::testing
