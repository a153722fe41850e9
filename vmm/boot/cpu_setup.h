#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/kvm/vcpu.h"

namespace tlbscope {

// Writes the flat boot GDT (null, code32 0x08, data32 0x10, TSS 0x18) at
// layout::kGdt, as both PVH and Multiboot expect of the loader.
absl::Status WriteBootGdt(GuestMemory& mem);

// The CPUID the guest sees on vCPU `index`: the host-supported set with the
// APIC id in leaf 1 EBX[31:24] and the x2APIC id in leaves 0xb and 0x1f.
// With `emulated_cpl0` (the host runs guest kernel code in KVM's
// instruction emulator, kvm_pvm) the XSAVE family and AVX are hidden: the
// emulator cannot run xsave/xrstor, and without XSAVE no AVX state; so are
// KVM's hypercall-based PV features (spinlock unhalt, send-IPI, sched-yield:
// vmcall spins in that emulator). KVM's PV TLB flush is hidden on every host:
// flushes KVM does for the guest would escape the trace.
CpuidTable CpuidForVcpu(const CpuidTable& supported, int index, bool emulated_cpl0 = false);

// Puts the BSP at the kernel's 32-bit entry: protected mode, paging off,
// flat 4 GiB segments, interrupts off, EAX/EBX from the boot protocol.
absl::Status SetupBootCpu(Vcpu& vcpu, const LoadedKernel& kernel);

}  // namespace tlbscope
