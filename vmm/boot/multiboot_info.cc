// Multiboot v1 boot information (the GNU Multiboot Specification 0.6.96, §3.3).

#include "vmm/boot/boot_info.h"
#include "vmm/boot/layout.h"
#include "vmm/boot/memory_map.h"

namespace tlbscope {
namespace {

constexpr uint32_t kInfoMemory = 1u << 0;
constexpr uint32_t kInfoCmdline = 1u << 2;
constexpr uint32_t kInfoMmap = 1u << 6;

struct MultibootInfo {
  uint32_t flags;
  uint32_t mem_lower;  // KiB below 1 MiB
  uint32_t mem_upper;  // KiB from 1 MiB to the first hole
  uint32_t boot_device;
  uint32_t cmdline;
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;
  uint32_t mmap_addr;
};
static_assert(sizeof(MultibootInfo) == 52);

#pragma pack(push, 1)
struct MultibootMmapEntry {
  uint32_t size;  // of the rest of the entry: 20
  uint64_t addr;
  uint64_t len;
  uint32_t type;
};
#pragma pack(pop)
static_assert(sizeof(MultibootMmapEntry) == 24);

}  // namespace

absl::Status WriteMultibootInfo(GuestMemory& mem) {
  std::vector<MemRange> map = GuestMemoryMap(mem.size());
  MultibootInfo info{};
  info.flags = kInfoMemory | kInfoCmdline | kInfoMmap;
  info.mem_lower = static_cast<uint32_t>(layout::kEbda / 1024);
  info.mem_upper = static_cast<uint32_t>((mem.size() - layout::kHighMemory) / 1024);
  info.cmdline = static_cast<uint32_t>(layout::kCmdline);
  info.mmap_length = static_cast<uint32_t>(map.size() * sizeof(MultibootMmapEntry));
  info.mmap_addr = static_cast<uint32_t>(layout::kMemmap);
  absl::Status s = mem.WriteObject(layout::kBootInfo, info);
  for (size_t i = 0; s.ok() && i < map.size(); ++i) {
    MultibootMmapEntry e{20, map[i].addr, map[i].size, static_cast<uint32_t>(map[i].type)};
    s = mem.WriteObject(layout::kMemmap + i * sizeof(e), e);
  }
  return s;
}

}  // namespace tlbscope
