#pragma once

// The Linux zero page (struct boot_params, arch/x86/include/uapi/asm/bootparam.h)
// for the 32-bit boot protocol.

#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/status.h"
#include "vmm/boot/initrd.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

namespace zero_page {
inline constexpr uint64_t kAcpiRsdpAddr = 0x070;
inline constexpr uint64_t kE820Entries = 0x1e8;
inline constexpr uint64_t kSetupHeader = 0x1f1;
inline constexpr uint64_t kTypeOfLoader = 0x210;
inline constexpr uint64_t kRamdiskImage = 0x218;
inline constexpr uint64_t kRamdiskSize = 0x21c;
inline constexpr uint64_t kCmdLinePtr = 0x228;
inline constexpr uint64_t kE820Table = 0x2d0;
inline constexpr int kE820Max = 128;
}  // namespace zero_page

// Writes boot_params at layout::kZeroPage: the file's setup header (from
// 0x1f1 to its end as the jump at 0x200 gives it), type_of_loader 0xff
// (undefined), the command line at layout::kCmdline, the initrd, the E820
// map for the guest's memory and the ACPI RSDP.
absl::Status WriteZeroPage(GuestMemory& mem, std::span<const uint8_t> bzimage,
                           std::optional<InitrdPlacement> initrd);

}  // namespace tlbscope
