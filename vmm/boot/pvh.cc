// PVH boot information (xen/include/public/arch-x86/hvm/start_info.h), the
// same convention Firecracker and cloud-hypervisor use for direct kernel boot.

#include <cstring>

#include "absl/strings/str_format.h"
#include "vmm/boot/boot_info.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/memory_map.h"

namespace tlbscope {
namespace {

constexpr uint32_t kHvmStartMagic = 0x336ec578;

struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);

struct HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

struct HvmModlistEntry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32);

}  // namespace

absl::Status WriteCmdline(GuestMemory& mem, const std::string& cmdline) {
  if (cmdline.size() + 1 > layout::kCmdlineMax) {
    return absl::InvalidArgumentError(absl::StrFormat("--cmdline is %d bytes; at most %d fit",
                                                      cmdline.size(), layout::kCmdlineMax - 1));
  }
  absl::Status s = mem.Fill(layout::kCmdline, layout::kCmdlineMax, 0);
  if (!s.ok()) return s;
  return mem.Write(layout::kCmdline,
                   {reinterpret_cast<const uint8_t*>(cmdline.data()), cmdline.size()});
}

absl::Status WritePvhStartInfo(GuestMemory& mem, std::optional<InitrdPlacement> initrd) {
  std::vector<MemRange> map = GuestMemoryMap(mem.size());
  HvmStartInfo info{};
  info.magic = kHvmStartMagic;
  info.version = 1;
  info.cmdline_paddr = layout::kCmdline;
  info.memmap_paddr = layout::kMemmap;
  info.memmap_entries = static_cast<uint32_t>(map.size());
  info.rsdp_paddr = layout::kAcpi;
  absl::Status s = absl::OkStatus();
  if (initrd) {
    info.nr_modules = 1;
    info.modlist_paddr = layout::kModlist;
    s = mem.WriteObject(layout::kModlist, HvmModlistEntry{initrd->addr, initrd->size, 0, 0});
  }
  if (s.ok()) s = mem.WriteObject(layout::kBootInfo, info);
  for (size_t i = 0; s.ok() && i < map.size(); ++i) {
    HvmMemmapEntry e{map[i].addr, map[i].size, static_cast<uint32_t>(map[i].type), 0};
    s = mem.WriteObject(layout::kMemmap + i * sizeof(e), e);
  }
  return s;
}

}  // namespace tlbscope
