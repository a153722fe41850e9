#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

struct InitrdPlacement {
  uint64_t addr = 0;
  uint64_t size = 0;
};

// An initrd's bytes and the path that names it in errors (its own path,
// never the kernel's).
struct InitrdFile {
  std::span<const uint8_t> bytes;
  std::string path;
};

// Copies the initrd to the highest page-aligned address where it ends at
// or below min(top of RAM, `addr_max` + 1) and starts at or above
// `kernel_end`. InvalidArgument "initrd <path>: ..." when it does not fit.
absl::StatusOr<InitrdPlacement> PlaceInitrd(GuestMemory& mem, const InitrdFile& initrd,
                                            uint64_t kernel_end, uint64_t addr_max);

}  // namespace tlbscope
