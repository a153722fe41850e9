#pragma once

// The CRC-32 that Linux's arch/x86/boot/tools/build.c appends to every
// bzImage: over the setup and the protected-mode code (syssize at 0x1f4, in
// 16-byte units, includes the 4 CRC bytes), stored little-endian as the
// last 4 of those bytes, without the final inversion. The compressed
// payload inside is not otherwise checked by anything (lz4's legacy frames
// carry no checksum), so this is what catches a flipped bit.

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"

namespace tlbscope {

// OK when the stored CRC matches. A signed image (an EFI stub whose PE
// certificate table is not empty: sbsign rewrote the header the CRC
// covers) is not checked: its signature is its integrity check.
// InvalidArgument "kernel <what>: ..." otherwise.
absl::Status CheckBzImageCrc(std::span<const uint8_t> bytes, uint64_t setup_size,
                             const std::string& what);

// The CRC as build.c computes it over `bytes` (for the test images).
uint32_t BzImageCrc(std::span<const uint8_t> bytes);

}  // namespace tlbscope
