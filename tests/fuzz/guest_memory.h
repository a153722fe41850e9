#pragma once

// One guest memory per fuzzing process (an anonymous mapping, no KVM),
// reused by every input.

#include <cstdint>
#include <cstdlib>

#include "vmm/kvm/guest_memory.h"

namespace tlbscope::fuzz {

inline GuestMemory& SharedGuestMemory(uint64_t size) {
  static GuestMemory* mem = [size] {
    absl::StatusOr<GuestMemory> m = GuestMemory::Create(size);
    if (!m.ok()) std::abort();
    return new GuestMemory(std::move(*m));
  }();
  return *mem;
}

}  // namespace tlbscope::fuzz
