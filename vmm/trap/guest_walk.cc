#include "vmm/trap/guest_walk.h"

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kPresent = 1, kPageSize = 1ull << 7;
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;

}  // namespace

absl::StatusOr<uint64_t> TranslateGva(const GuestMemory& mem, const PagingMode& mode,
                                      uint64_t gva) {
  if (!(mode.cr0 & kCr0Pg)) return gva & 0xffffffffull;
  int levels;
  uint64_t table;
  if (mode.efer & kEferLma) {
    levels = (mode.cr4 & kCr4La57) ? 5 : 4;
    table = mode.cr3 & kAddrMask;
  } else if (mode.cr4 & kCr4Pae) {
    // PAE: CR3 points at 4 PDPTEs (32-byte aligned); then PD and PT.
    gva &= 0xffffffffull;
    absl::StatusOr<uint64_t> pdpte =
        mem.ReadObject<uint64_t>((mode.cr3 & 0xffffffe0ull) + ((gva >> 30) & 3) * 8);
    if (!pdpte.ok()) return pdpte.status();
    if (!(*pdpte & kPresent)) {
      return absl::NotFoundError(absl::StrFormat("gva %#x: PAE PDPTE not present", gva));
    }
    levels = 2;
    table = *pdpte & kAddrMask;
  } else {
    return absl::UnimplementedError(
        absl::StrFormat("gva %#x: 32-bit non-PAE paging is not supported", gva));
  }
  for (int level = levels; level >= 1; --level) {
    int shift = 12 + 9 * (level - 1);
    uint64_t index = (gva >> shift) & 0x1ff;
    absl::StatusOr<uint64_t> entry = mem.ReadObject<uint64_t>(table + index * 8);
    if (!entry.ok()) {
      return absl::OutOfRangeError(absl::StrFormat(
          "gva %#x: level-%d table at %#x is outside guest memory", gva, level, table));
    }
    if (!(*entry & kPresent)) {
      return absl::NotFoundError(
          absl::StrFormat("gva %#x: not present at level %d (entry %#x)", gva, level, *entry));
    }
    bool leaf = level == 1 || ((level == 2 || level == 3) && (*entry & kPageSize));
    if (leaf) {
      uint64_t page_mask = (1ull << shift) - 1;
      return ((*entry & kAddrMask) & ~page_mask) | (gva & page_mask);
    }
    table = *entry & kAddrMask;
  }
  return absl::InternalError("unreachable");
}

absl::Status ReadGuestVirtual(const GuestMemory& mem, const PagingMode& mode, uint64_t gva,
                              std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    uint64_t va = gva + done;
    size_t chunk = std::min<size_t>(out.size() - done, 4096 - (va & 0xfff));
    absl::StatusOr<uint64_t> gpa = TranslateGva(mem, mode, va);
    if (!gpa.ok()) return gpa.status();
    if (absl::Status s = mem.Read(*gpa, out.subspan(done, chunk)); !s.ok()) return s;
    done += chunk;
  }
  return absl::OkStatus();
}

absl::Status WriteGuestVirtual(GuestMemory& mem, const PagingMode& mode, uint64_t gva,
                               std::span<const uint8_t> bytes) {
  struct Piece {
    uint64_t gpa;
    size_t from, len;
  };
  std::vector<Piece> pieces;
  for (size_t done = 0; done < bytes.size();) {
    uint64_t va = gva + done;
    size_t len = std::min<size_t>(bytes.size() - done, 4096 - (va & 0xfff));
    absl::StatusOr<uint64_t> gpa = TranslateGva(mem, mode, va);
    if (!gpa.ok()) return gpa.status();
    if (!mem.Contains(*gpa, len)) {
      return absl::OutOfRangeError(absl::StrFormat("%#x: outside guest memory", va));
    }
    pieces.push_back({*gpa, done, len});
    done += len;
  }
  for (const Piece& p : pieces) {
    if (absl::Status s = mem.Write(p.gpa, bytes.subspan(p.from, p.len)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace tlbscope
