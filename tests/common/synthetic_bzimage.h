#pragma once

// Handmade bzImages for the loader tests: a boot sector and setup header
// (boot protocol 2.15 fields) around a payload compressed with the same
// libraries the loader decompresses with.

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/boot/decompress.h"

namespace tlbscope::testing {

// `payload` compressed as `format` the way Linux's build does it (lz4 -l
// legacy frames, gzip -9, xz, zstd; the 4-byte size trailer for all but gzip).
std::vector<uint8_t> CompressLikeLinux(Compression format, const std::vector<uint8_t>& payload);

struct BzImageSpec {
  uint8_t setup_sects = 4;
  uint16_t boot_flag = 0xaa55;
  uint32_t header = 0x53726448;  // "HdrS"
  uint16_t version = 0x020f;
  uint8_t loadflags = 0x01;      // LOADED_HIGH
  uint16_t xloadflags = 0x0001;  // XLF_KERNEL_64
  uint32_t code32_start = 0x100000;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x100000;
  uint32_t payload_offset = 0x100;  // from the protected-mode code
  // 0: the compressed size.
  uint32_t payload_length = 0;
};

// setup_sects * 512 + 512 bytes of setup, then 0x100 bytes of "code", the
// payload, 16+ bytes of padding and the CRC-32 that build.c appends (syssize
// at 0x1f4 says where it ends).
std::vector<uint8_t> MakeBzImage(const BzImageSpec& spec, const std::vector<uint8_t>& payload);

std::vector<uint8_t> ReadAll(const std::string& path);
void WriteAll(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace tlbscope::testing
