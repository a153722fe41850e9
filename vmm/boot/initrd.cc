#include "vmm/boot/initrd.h"

#include "absl/strings/str_format.h"

namespace tlbscope {

absl::StatusOr<InitrdPlacement> PlaceInitrd(GuestMemory& mem, const InitrdFile& file,
                                            uint64_t kernel_end, uint64_t addr_max) {
  std::span<const uint8_t> initrd = file.bytes;
  const std::string& what = file.path;
  constexpr uint64_t kPage = 4096;
  uint64_t top = std::min<uint64_t>(mem.size(), addr_max + 1);
  uint64_t low = (kernel_end + kPage - 1) & ~(kPage - 1);
  if (initrd.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("initrd %s: the file is empty", what));
  }
  if (top < low || initrd.size() > top - low) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "initrd %s: too big: %d bytes do not fit between the kernel's end %#x and %#x (top of "
        "guest memory or the kernel's initrd_addr_max); raise --mem",
        what, initrd.size(), low, top));
  }
  InitrdPlacement p;
  p.size = initrd.size();
  p.addr = (top - initrd.size()) & ~(kPage - 1);
  if (absl::Status s = mem.Write(p.addr, initrd); !s.ok()) return s;
  return p;
}

}  // namespace tlbscope
