#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

// Writes the command line at layout::kCmdline. InvalidArgument if too long.
absl::Status WriteCmdline(GuestMemory& mem, const std::string& cmdline);

// PVH: struct hvm_start_info (version 1, with memmap) at layout::kBootInfo.
// The guest finds it in EBX.
absl::Status WritePvhStartInfo(GuestMemory& mem);

// Multiboot v1: struct multiboot_info (mem, cmdline, mmap) at layout::kBootInfo.
absl::Status WriteMultibootInfo(GuestMemory& mem);

// Intel MP spec 1.4 floating pointer + configuration table at layout::kMpTable:
// `num_cpus` processors (APIC ids 0..n-1, 0 is the BSP), an ISA bus, the
// IOAPIC (id num_cpus) with ISA IRQs 0-15 on pins 0-15, LINT0 ExtINT, LINT1 NMI.
absl::Status WriteMpTable(GuestMemory& mem, int num_cpus);

}  // namespace tlbscope
