#pragma once

// introspect's GuestReader over the VMM's guest page walk: kernel virtual
// addresses translated through the page tables of the vCPU that hit the
// probe (every Linux page table maps the kernel half the same way).

#include "introspect/probes/guest_reader.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/trap/guest_walk.h"

namespace tlbscope {

class PageWalkReader : public introspect::GuestReader {
 public:
  // The most one Read copies: the probes read structs and single fields.
  static constexpr size_t kMaxRead = 1 << 16;
  PageWalkReader(const GuestMemory& mem, const PagingMode& mode) : mem_(mem), mode_(mode) {}
  absl::Status Read(uint64_t gva, std::span<uint8_t> out) override;
  absl::StatusOr<uint64_t> Translate(uint64_t gva) override;

 private:
  const GuestMemory& mem_;
  PagingMode mode_;
};

// The paging state of a 64-bit kernel with `cr3` as its root and `cr4`'s
// LA57 bit (for a CR3 value that is not loaded yet, or not any more).
PagingMode LongModeWith(uint64_t cr3, uint64_t cr4);

}  // namespace tlbscope
