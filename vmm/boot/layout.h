#pragma once

// Guest-physical layout the VMM writes before the first instruction runs.
// Everything sits below 1 MiB; kernels load at or above it.

#include <cstdint>

namespace tlbscope::layout {

inline constexpr uint64_t kGdt = 0x500;          // boot GDT (flat 32-bit code/data + TSS)
inline constexpr uint64_t kLinuxGdt = 0x540;     // the same at __BOOT_CS 0x10 / __BOOT_DS 0x18
inline constexpr uint64_t kZeroPage = 0x1000;    // Linux boot_params (32-bit boot protocol)
inline constexpr uint64_t kBootInfo = 0x6000;    // hvm_start_info or multiboot_info
inline constexpr uint64_t kMemmap = 0x6100;      // PVH memmap / multiboot mmap
inline constexpr uint64_t kModlist = 0x6800;     // PVH module list (the initrd)
inline constexpr uint64_t kCmdline = 0x7000;     // NUL-terminated kernel command line
inline constexpr uint64_t kCmdlineMax = 0x1000;  // bytes, including the NUL
inline constexpr uint64_t kBootDataEnd = 0x8000;
inline constexpr uint64_t kEbda = 0x9fc00;  // reserved up to 1 MiB
inline constexpr uint64_t kAcpi = 0xe0000;  // ACPI RSDP, then XSDT, FADT, DSDT, MADT
inline constexpr uint64_t kAcpiEnd = 0xf0000;
inline constexpr uint64_t kMpTable = 0xf0000;  // MP floating pointer + config table
inline constexpr uint64_t kHighMemory = 0x100000;

inline constexpr uint64_t kLapicBase = 0xfee00000;
inline constexpr uint64_t kIoapicBase = 0xfec00000;

inline constexpr uint64_t kMinMemMiB = 2;
// Guest RAM is one slot below the 32-bit MMIO hole (IOAPIC/LAPIC at 3.98 GiB).
inline constexpr uint64_t kMaxMemMiB = 3072;

}  // namespace tlbscope::layout
