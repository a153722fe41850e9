#pragma once

#include <cstdint>
#include <vector>

namespace tlbscope {

// E820 types, shared by the PVH memmap and the Multiboot mmap.
enum class MemType : uint32_t { kRam = 1, kReserved = 2 };

struct MemRange {
  uint64_t addr;
  uint64_t size;
  MemType type;
};

// The guest's physical memory map for `mem_size` bytes of RAM: low RAM, the
// EBDA/BIOS hole (where the MP table lives), and RAM from 1 MiB up.
std::vector<MemRange> GuestMemoryMap(uint64_t mem_size);

}  // namespace tlbscope
