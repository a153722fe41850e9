#pragma once

// The Linux x86 boot protocol's setup header (Documentation/arch/x86/boot.rst),
// as a bzImage carries it at offset 0x1f1.

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace tlbscope {

inline constexpr uint64_t kSetupHeaderOffset = 0x1f1;
inline constexpr uint64_t kSetupHeaderEnd = 0x268;  // through kernel_info_offset (2.15)

struct SetupHeader {
  uint8_t setup_sects;  // 0 means 4
  uint16_t boot_flag;   // 0xaa55
  uint32_t header;      // "HdrS"
  uint16_t version;     // e.g. 0x020f for 2.15
  uint8_t loadflags;
  uint32_t code32_start;
  uint32_t initrd_addr_max;
  uint32_t kernel_alignment;
  uint8_t relocatable_kernel;
  uint16_t xloadflags;
  uint32_t cmdline_size;
  uint32_t payload_offset;  // from the start of the protected-mode code
  uint32_t payload_length;
  uint64_t pref_address;
  uint32_t init_size;
};

struct BzImage {
  SetupHeader header;
  uint64_t setup_size;     // real-mode setup code, boot sector included (bytes)
  uint64_t kernel_offset;  // file offset of the protected-mode code (= setup_size)
  uint64_t kernel_size;    // bytes of protected-mode code
  uint64_t payload_file_offset;
  std::span<const uint8_t> payload;  // the compressed vmlinux, inside the file bytes
};

// True when `bytes` is not an ELF and has a boot sector's 0xaa55 at 0x1fe.
bool HasBzImageMagic(std::span<const uint8_t> bytes);

// Parses and checks the setup header: protocol 2.08 or later (payload
// fields), a 64-bit relocatable kernel, a payload inside the file. Errors
// are InvalidArgument "kernel <what>: ..." naming the field and offset.
absl::StatusOr<BzImage> ParseBzImage(std::span<const uint8_t> bytes, const std::string& what);

// The most a payload may expand to when nothing smaller bounds it.
inline constexpr uint64_t kMaxVmlinux = 1ull << 30;

// Decompresses the payload (gzip, xz, lz4 legacy frames, zstd, or an
// uncompressed ELF) into the vmlinux ELF image. Errors name the format and
// the file offset of the payload.
//
// The payload is untrusted: Linux's build ends every compressed payload
// with the uncompressed size (size_append; gzip's own ISIZE), so the
// expansion stops as soon as it passes min(that size, `max_bytes`) and a
// result of any other size is refused (a corrupt lz4 block, which carries
// no checksum, mostly shows as a wrong size). A trailer above `max_bytes`
// (the guest's memory when loading) is refused before anything expands.
absl::StatusOr<std::vector<uint8_t>> ExtractVmlinux(const BzImage& image, const std::string& what,
                                                    uint64_t max_bytes = kMaxVmlinux);

}  // namespace tlbscope
