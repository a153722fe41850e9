#include "vmm/linux/page_walk_reader.h"

#include "absl/strings/str_format.h"

namespace tlbscope {

absl::Status PageWalkReader::Read(uint64_t gva, std::span<uint8_t> out) {
  if (out.size() > kMaxRead) {
    return absl::InvalidArgumentError(
        absl::StrFormat("guest read of %d bytes at %#x: more than %d", out.size(), gva, kMaxRead));
  }
  return ReadGuestVirtual(mem_, mode_, gva, out);
}

absl::StatusOr<uint64_t> PageWalkReader::Translate(uint64_t gva) {
  return TranslateGva(mem_, mode_, gva);
}

PagingMode LongModeWith(uint64_t cr3, uint64_t cr4) {
  constexpr uint64_t kCr0PgPe = (1ull << 31) | 1, kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
  constexpr uint64_t kEferLmeLma = (1ull << 8) | (1ull << 10);
  return PagingMode{kCr0PgPe, cr3 & ~(1ull << 63), kCr4Pae | (cr4 & kCr4La57), kEferLmeLma};
}

}  // namespace tlbscope
