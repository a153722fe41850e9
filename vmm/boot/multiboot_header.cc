#include <cstring>

#include "vmm/boot/kernel_loader.h"

namespace tlbscope {
namespace {
constexpr uint32_t kMultibootMagic = 0x1BADB002;
constexpr size_t kSearchBytes = 8192;
constexpr size_t kHeaderBytes = 32;  // magic, flags, checksum, 5 address fields
}  // namespace

std::optional<MultibootHeader> FindMultibootHeader(std::span<const uint8_t> bytes) {
  size_t limit = std::min(bytes.size(), kSearchBytes);
  for (size_t off = 0; off + 12 <= limit; off += 4) {
    uint32_t w[8] = {};
    std::memcpy(w, bytes.data() + off, std::min(kHeaderBytes, bytes.size() - off));
    if (w[0] != kMultibootMagic || w[0] + w[1] + w[2] != 0) continue;
    MultibootHeader h{off, w[1], w[3], w[4], w[5], w[6], w[7]};
    return h;
  }
  return std::nullopt;
}

}  // namespace tlbscope
