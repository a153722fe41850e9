#include "vmm/boot/memory_map.h"

#include "vmm/boot/layout.h"

namespace tlbscope {

std::vector<MemRange> GuestMemoryMap(uint64_t mem_size) {
  return {
      {0, layout::kEbda, MemType::kRam},
      {layout::kEbda, layout::kHighMemory - layout::kEbda, MemType::kReserved},
      {layout::kHighMemory, mem_size - layout::kHighMemory, MemType::kRam},
  };
}

}  // namespace tlbscope
