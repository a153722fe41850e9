#include "vmm/boot/cpu_setup.h"

#include "vmm/boot/layout.h"

namespace tlbscope {
namespace {

constexpr uint16_t kCodeSelector = 0x08, kDataSelector = 0x10, kTssSelector = 0x18;
constexpr uint64_t kCr0Pe = 1u << 0, kCr0Et = 1u << 4;

// A present ring-0 segment at base 0: flat 4 GiB code or data (`flat`:
// S, D/B and G set), or a system segment such as the TSS.
kvm_segment Segment(uint16_t selector, uint8_t type, uint32_t limit, bool flat) {
  return kvm_segment{.base = 0,
                     .limit = limit,
                     .selector = selector,
                     .type = type,
                     .present = 1,
                     .dpl = 0,
                     .db = flat,
                     .s = flat,
                     .l = 0,
                     .g = flat,
                     .avl = 0,
                     .unusable = 0,
                     .padding = 0};
}

}  // namespace

absl::Status WriteBootGdt(GuestMemory& mem) {
  const uint64_t gdt[4] = {
      0,
      0x00cf9b000000ffffull,  // 0x08: code, 32-bit, 4 GiB, accessed
      0x00cf93000000ffffull,  // 0x10: data, 32-bit, 4 GiB, accessed
      0x00008b0000000067ull,  // 0x18: 32-bit TSS (busy), base 0, limit 0x67
  };
  // Linux's 32-bit boot protocol wants __BOOT_CS 0x10 and __BOOT_DS 0x18.
  const uint64_t linux_gdt[5] = {0, 0, gdt[1], gdt[2], gdt[3]};
  absl::Status s = mem.WriteObject(layout::kGdt, gdt);
  if (s.ok()) s = mem.WriteObject(layout::kLinuxGdt, linux_gdt);
  return s;
}

CpuidTable CpuidForVcpu(const CpuidTable& supported, int index, bool emulated_cpl0) {
  constexpr uint32_t kLeaf1EcxXsave = 1u << 26, kLeaf1EcxOsxsave = 1u << 27,
                     kLeaf1EcxAvx = 1u << 28, kLeaf1EcxFma = 1u << 12, kLeaf1EcxF16c = 1u << 29;
  constexpr uint32_t kLeaf7EbxAvx2 = 1u << 5, kLeaf7EbxAvx512f = 1u << 16;
  // "Running under a hypervisor" (leaf 1 ECX bit 31), which KVM's table
  // leaves clear and every VMM sets (QEMU, kvmtool, Firecracker): without
  // it Linux never reads KVM's leaves, so it has no kvmclock and no TSC
  // frequency on hosts whose CPUID gives none (AMD: no leaf 0x15). An ACPI
  // kernel then has no timer at all (our FADT is hardware-reduced: no PIT)
  // and spins forever calibrating the local APIC timer against jiffies.
  constexpr uint32_t kLeaf1EcxHypervisor = 1u << 31;
  CpuidTable t = supported.Clone();
  KvmCpuid2* c = t.get();
  // Of KVM's paravirt features (leaf 0x40000001 EAX) only the clock
  // (kvmclock, which gives Linux its TSC frequency): the others change the
  // paths tlbscope watches or hide work from it. PV TLB flush skips the
  // flush IPI to a preempted vCPU and has KVM flush for it (a flush
  // tlbscope never sees); PV unhalt, send-IPI and sched-yield are
  // hypercalls (`vmcall` at CPL0 never exits on kvm_pvm: the emulator spins
  // on it); async page faults and steal time add scheduling the guest
  // would not do on hardware.
  constexpr uint32_t kKvmClockSource = 1u << 0, kKvmClockSource2 = 1u << 3,
                     kKvmClockStable = 1u << 24;
  for (uint32_t i = 0; i < c->nent; ++i) {
    kvm_cpuid_entry2& e = c->entries[i];
    if (e.function == 0x40000001) e.eax &= kKvmClockSource | kKvmClockSource2 | kKvmClockStable;
    if (emulated_cpl0) {
      if (e.function == 1) {
        e.ecx &= ~(kLeaf1EcxXsave | kLeaf1EcxOsxsave | kLeaf1EcxAvx | kLeaf1EcxFma | kLeaf1EcxF16c);
      }
      if (e.function == 7 && e.index == 0) e.ebx &= ~(kLeaf7EbxAvx2 | kLeaf7EbxAvx512f);
      if (e.function == 0xd) e.eax = e.ebx = e.ecx = e.edx = 0;
    }
    if (e.function == 1) {
      e.ebx = (e.ebx & 0x00ffffff) | (static_cast<uint32_t>(index) << 24);
      e.ecx |= kLeaf1EcxHypervisor;
    }
    if (e.function == 0xb || e.function == 0x1f) e.edx = static_cast<uint32_t>(index);
  }
  return t;
}

absl::Status SetupBootCpu(Vcpu& vcpu, const LoadedKernel& kernel) {
  absl::StatusOr<kvm_sregs> sregs = vcpu.GetSregs();
  if (!sregs.ok()) return sregs.status();
  kvm_sregs& s = *sregs;
  const bool linux = kernel.protocol == BootProtocol::kLinux;
  const uint16_t shift = linux ? 8 : 0;  // selectors one slot up in the Linux GDT
  s.cs = Segment(kCodeSelector + shift, 0xb, 0xffffffff, true);
  s.ds = s.es = s.fs = s.gs = s.ss = Segment(kDataSelector + shift, 0x3, 0xffffffff, true);
  s.tr = Segment(kTssSelector + shift, 0xb, 0x67, false);
  s.gdt.base = linux ? layout::kLinuxGdt : layout::kGdt;
  s.gdt.limit = (linux ? 5 : 4) * 8 - 1;
  s.idt.base = 0;
  s.idt.limit = 0;
  s.cr0 = kCr0Pe | kCr0Et;
  s.cr3 = 0;
  s.cr4 = 0;
  s.efer = 0;
  absl::Status st = vcpu.SetSregs(s);
  if (!st.ok()) return st;
  kvm_regs regs{};
  regs.rip = kernel.entry;
  regs.rax = kernel.eax;
  regs.rbx = kernel.ebx;
  regs.rsi = kernel.esi;
  regs.rflags = 0x2;
  return vcpu.SetRegs(regs);
}

}  // namespace tlbscope
