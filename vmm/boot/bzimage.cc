#include "vmm/boot/bzimage.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/str_format.h"
#include "vmm/boot/bzimage_crc.h"
#include "vmm/boot/decompress.h"

namespace tlbscope {
namespace {

constexpr uint16_t kBootFlag = 0xaa55;
constexpr uint32_t kHdrS = 0x53726448;    // "HdrS"
constexpr uint16_t kMinVersion = 0x0208;  // payload_offset / payload_length
constexpr uint16_t kXlfKernel64 = 1u << 0;
constexpr uint8_t kLoadedHigh = 1u << 0;

template <typename T>
T At(std::span<const uint8_t> b, uint64_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

absl::Status Bad(const std::string& what, std::string_view detail) {
  return absl::InvalidArgumentError(absl::StrFormat("kernel %s: %s", what, detail));
}

}  // namespace

bool HasBzImageMagic(std::span<const uint8_t> bytes) {
  // A boot sector (0xaa55 at 0x1fe) that is not an ELF: ParseBzImage then
  // names what else is wrong ("HdrS", version, ...).
  bool elf = bytes.size() >= 4 && bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' &&
             bytes[3] == 'F';
  return !elf && bytes.size() >= 0x200 && At<uint16_t>(bytes, 0x1fe) == kBootFlag;
}

absl::StatusOr<BzImage> ParseBzImage(std::span<const uint8_t> bytes, const std::string& what) {
  if (bytes.size() < kSetupHeaderEnd) {
    return Bad(what, absl::StrFormat("truncated bzImage: %d bytes, the setup header ends at %#x",
                                     bytes.size(), kSetupHeaderEnd));
  }
  SetupHeader h{};
  h.setup_sects = At<uint8_t>(bytes, 0x1f1);
  h.boot_flag = At<uint16_t>(bytes, 0x1fe);
  h.header = At<uint32_t>(bytes, 0x202);
  h.version = At<uint16_t>(bytes, 0x206);
  h.loadflags = At<uint8_t>(bytes, 0x211);
  h.code32_start = At<uint32_t>(bytes, 0x214);
  h.initrd_addr_max = At<uint32_t>(bytes, 0x22c);
  h.kernel_alignment = At<uint32_t>(bytes, 0x230);
  h.relocatable_kernel = At<uint8_t>(bytes, 0x234);
  h.xloadflags = At<uint16_t>(bytes, 0x236);
  h.cmdline_size = At<uint32_t>(bytes, 0x238);
  h.payload_offset = At<uint32_t>(bytes, 0x248);
  h.payload_length = At<uint32_t>(bytes, 0x24c);
  h.pref_address = At<uint64_t>(bytes, 0x258);
  h.init_size = At<uint32_t>(bytes, 0x260);

  if (h.boot_flag != kBootFlag) {
    return Bad(what, absl::StrFormat("bad setup header: boot_flag at 0x1fe is %#x, not 0xaa55",
                                     h.boot_flag));
  }
  if (h.header != kHdrS) {
    return Bad(what,
               absl::StrFormat("bad setup header: magic at 0x202 is %#x, not \"HdrS\"", h.header));
  }
  if (h.version < kMinVersion) {
    return Bad(what, absl::StrFormat("boot protocol %d.%02d at 0x206 is too old (2.08 or later "
                                     "needed)",
                                     h.version >> 8, h.version & 0xff));
  }
  if (!(h.loadflags & kLoadedHigh)) {
    return Bad(what,
               "bad setup header: loadflags at 0x211 lacks LOADED_HIGH (a zImage, not a "
               "bzImage)");
  }
  if (!(h.xloadflags & kXlfKernel64)) {
    return Bad(what, "not a 64-bit kernel: xloadflags at 0x236 lacks XLF_KERNEL_64");
  }
  BzImage img{};
  img.header = h;
  img.setup_size = (static_cast<uint64_t>(h.setup_sects == 0 ? 4 : h.setup_sects) + 1) * 512;
  img.kernel_offset = img.setup_size;
  if (img.setup_size >= bytes.size()) {
    return Bad(what, absl::StrFormat("truncated bzImage: setup_sects %d puts the kernel at %#x, "
                                     "past the end of the %#x-byte file",
                                     h.setup_sects, img.setup_size, bytes.size()));
  }
  img.kernel_size = bytes.size() - img.setup_size;
  img.payload_file_offset = img.kernel_offset + h.payload_offset;
  if (h.payload_length == 0 || h.payload_offset > img.kernel_size ||
      h.payload_length > img.kernel_size - h.payload_offset) {
    return Bad(what, absl::StrFormat("truncated bzImage or bad setup header: payload [%#x, %#x) "
                                     "(payload_offset at 0x248, payload_length at 0x24c) is not "
                                     "inside the %#x-byte file",
                                     img.payload_file_offset,
                                     img.payload_file_offset + h.payload_length, bytes.size()));
  }
  img.payload = bytes.subspan(img.payload_file_offset, h.payload_length);
  // Last: a damaged payload is named by its decompressor's finer error
  // when its CRC was rewritten to match.
  if (absl::Status s = CheckBzImageCrc(bytes, img.setup_size, what); !s.ok()) return s;
  return img;
}

absl::StatusOr<std::vector<uint8_t>> ExtractVmlinux(const BzImage& image, const std::string& what,
                                                    uint64_t max_bytes) {
  Compression c = DetectCompression(image.payload);
  auto bad = [&](std::string_view detail) {
    return Bad(what, absl::StrFormat("%s payload at file offset %#x: %s", CompressionName(c),
                                     image.payload_file_offset, detail));
  };
  uint64_t max_out = std::min(max_bytes, kMaxVmlinux);
  std::optional<uint64_t> stated;  // the size trailer; an uncompressed ELF has none
  const bool has_trailer = c == Compression::kGzip || c == Compression::kXz ||
                           c == Compression::kLz4Legacy || c == Compression::kZstd;
  if (has_trailer && image.payload.size() >= 4) {
    stated = At<uint32_t>(image.payload, image.payload.size() - 4);
    if (*stated > max_out) {
      return bad(
          absl::StrFormat("its size trailer states %d bytes, more than the %d MiB it may "
                          "expand to (guest memory or the loader's limit)",
                          *stated, max_out >> 20));
    }
    max_out = *stated + 1;  // one byte of slack: the stream's end may come after a full buffer
  }
  absl::StatusOr<std::vector<uint8_t>> out = Decompress(c, image.payload, max_out);
  if (!out.ok()) {
    if (stated && absl::IsOutOfRange(out.status())) {
      return bad(
          absl::StrFormat("expands past the %d bytes its size trailer states (corrupt "
                          "payload)",
                          *stated));
    }
    return bad(std::string(out.status().message()));
  }
  if (stated && out->size() != *stated) {
    return bad(
        absl::StrFormat("expands to %d bytes, not the %d its size trailer states (corrupt "
                        "payload)",
                        out->size(), *stated));
  }
  if (out->size() < 4 || (*out)[0] != 0x7f || (*out)[1] != 'E' || (*out)[2] != 'L' ||
      (*out)[3] != 'F') {
    return Bad(what, absl::StrFormat("%s payload at file offset %#x does not hold an ELF vmlinux",
                                     CompressionName(c), image.payload_file_offset));
  }
  return out;
}

}  // namespace tlbscope
