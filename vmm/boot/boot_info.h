#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "vmm/boot/initrd.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

// Writes the command line at layout::kCmdline. InvalidArgument if too long.
absl::Status WriteCmdline(GuestMemory& mem, const std::string& cmdline);

// PVH: struct hvm_start_info (version 1, with memmap) at layout::kBootInfo,
// the initrd as module 0 (Linux takes the first module as its ramdisk) and
// the ACPI RSDP at layout::kAcpi. The guest finds it in EBX.
absl::Status WritePvhStartInfo(GuestMemory& mem,
                               std::optional<InitrdPlacement> initrd = std::nullopt);

// ACPI 6 tables at layout::kAcpi (RSDP, XSDT, FADT, an empty DSDT, MADT
// with `num_cpus` local APICs, the IOAPIC and the ISA overrides), for
// kernels without MP-table support (Debian's have no CONFIG_X86_MPPARSE).
absl::Status WriteAcpiTables(GuestMemory& mem, int num_cpus);

// Multiboot v1: struct multiboot_info (mem, cmdline, mmap) at layout::kBootInfo.
absl::Status WriteMultibootInfo(GuestMemory& mem);

// Intel MP spec 1.4 floating pointer + configuration table at layout::kMpTable:
// `num_cpus` processors (APIC ids 0..n-1, 0 is the BSP), an ISA bus, the
// IOAPIC (id num_cpus) with ISA IRQs 0-15 on pins 0-15, LINT0 ExtINT, LINT1 NMI.
absl::Status WriteMpTable(GuestMemory& mem, int num_cpus);

}  // namespace tlbscope
