#pragma once

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

// The paging state a walk needs (from kvm_sregs).
struct PagingMode {
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
};

// Translates a guest linear address the way the guest's MMU would: no
// paging, 32-bit PAE, 4-level or 5-level (CR4.LA57) long mode; 4 KiB, 2 MiB
// and 1 GiB pages. Only reads guest memory. Errors name the address and the
// level where the walk stopped.
absl::StatusOr<uint64_t> TranslateGva(const GuestMemory& mem, const PagingMode& mode, uint64_t gva);

// Reads `out.size()` bytes at `gva`, translating each page on the way.
absl::Status ReadGuestVirtual(const GuestMemory& mem, const PagingMode& mode, uint64_t gva,
                              std::span<uint8_t> out);

// Writes `bytes` at `gva` as the guest's MMU would place them (what the
// VMM emulates a guest store with: a push, an exception frame). Every page
// is translated and checked to be in guest memory before any byte is
// written, so an error leaves memory as it was.
absl::Status WriteGuestVirtual(GuestMemory& mem, const PagingMode& mode, uint64_t gva,
                               std::span<const uint8_t> bytes);

}  // namespace tlbscope
