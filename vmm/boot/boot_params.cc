#include "vmm/boot/boot_params.h"

#include "vmm/boot/layout.h"
#include "vmm/boot/memory_map.h"

namespace tlbscope {
namespace {

struct [[gnu::packed]] E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};
static_assert(sizeof(E820Entry) == 20);

}  // namespace

absl::Status WriteZeroPage(GuestMemory& mem, std::span<const uint8_t> bzimage,
                           std::optional<InitrdPlacement> initrd) {
  using namespace zero_page;
  const uint64_t zp = layout::kZeroPage;
  if (absl::Status s = mem.Fill(zp, 4096, 0); !s.ok()) return s;
  // The header runs from 0x1f1 to 0x202 plus the jump's 8-bit offset at 0x201.
  uint64_t end = std::min<uint64_t>(0x202 + bzimage[0x201], 4096);
  end = std::min<uint64_t>(end, bzimage.size());
  absl::Status s = mem.Write(zp + kSetupHeader, bzimage.subspan(kSetupHeader, end - kSetupHeader));
  if (s.ok()) s = mem.WriteObject<uint8_t>(zp + kTypeOfLoader, 0xff);
  if (s.ok()) s = mem.WriteObject<uint32_t>(zp + kCmdLinePtr, layout::kCmdline);
  if (s.ok()) s = mem.WriteObject<uint64_t>(zp + kAcpiRsdpAddr, layout::kAcpi);
  if (s.ok() && initrd) {
    s = mem.WriteObject<uint32_t>(zp + kRamdiskImage, static_cast<uint32_t>(initrd->addr));
    if (s.ok())
      s = mem.WriteObject<uint32_t>(zp + kRamdiskSize, static_cast<uint32_t>(initrd->size));
  }
  std::vector<MemRange> map = GuestMemoryMap(mem.size());
  for (size_t i = 0; s.ok() && i < map.size() && i < kE820Max; ++i) {
    E820Entry e{map[i].addr, map[i].size, static_cast<uint32_t>(map[i].type)};
    s = mem.WriteObject(zp + kE820Table + i * sizeof(E820Entry), e);
  }
  if (s.ok()) s = mem.WriteObject<uint8_t>(zp + kE820Entries, static_cast<uint8_t>(map.size()));
  return s;
}

}  // namespace tlbscope
