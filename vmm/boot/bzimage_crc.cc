#include "vmm/boot/bzimage_crc.h"

#include <zlib.h>

#include <cstring>

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

template <typename T>
T At(std::span<const uint8_t> b, uint64_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

// True when the image carries an EFI stub's PE header with a non-empty
// certificate table (a signed kernel).
bool IsSigned(std::span<const uint8_t> b) {
  if (b.size() < 0x40 || b[0] != 'M' || b[1] != 'Z') return false;
  uint64_t pe = At<uint32_t>(b, 0x3c);
  if (pe > b.size() || b.size() - pe < 24 + 2) return false;
  if (std::memcmp(b.data() + pe, "PE\0\0", 4) != 0) return false;
  uint64_t opt = pe + 24;
  uint16_t magic = At<uint16_t>(b, opt);
  // The certificate table is data directory 4 (8 bytes: address, size).
  uint64_t dirs = magic == 0x20b ? opt + 112 : magic == 0x10b ? opt + 96 : 0;
  if (dirs == 0 || b.size() - dirs < 5 * 8) return false;
  return At<uint32_t>(b, dirs + 4 * 8 + 4) != 0;
}

}  // namespace

uint32_t BzImageCrc(std::span<const uint8_t> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < bytes.size()) {
    uInt n = static_cast<uInt>(std::min<size_t>(bytes.size() - done, 1u << 30));
    crc = crc32(crc, bytes.data() + done, n);
    done += n;
  }
  return ~static_cast<uint32_t>(crc);
}

absl::Status CheckBzImageCrc(std::span<const uint8_t> bytes, uint64_t setup_size,
                             const std::string& what) {
  if (IsSigned(bytes)) return absl::OkStatus();
  uint64_t syssize = static_cast<uint64_t>(At<uint32_t>(bytes, 0x1f4)) * 16;
  uint64_t end = setup_size + syssize;
  if (syssize < 4 || end > bytes.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kernel %s: truncated bzImage or bad setup header: syssize at 0x1f4 puts the image's end "
        "(and its CRC-32) at %#x, but the file has %#x bytes",
        what, end, bytes.size()));
  }
  uint32_t stored = At<uint32_t>(bytes, end - 4);
  uint32_t computed = BzImageCrc(bytes.first(end - 4));
  if (stored != computed) {
    return absl::InvalidArgumentError(
        absl::StrFormat("kernel %s: corrupt bzImage: its CRC-32 at file offset %#x is %#010x, "
                        "but its bytes give %#010x (a changed or damaged file)",
                        what, end - 4, stored, computed));
  }
  return absl::OkStatus();
}

}  // namespace tlbscope
