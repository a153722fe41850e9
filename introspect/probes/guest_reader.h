#pragma once
// How probes read a running guest: its memory by kernel virtual address
// (the VMM implements it with its guest page walk, vmm/trap/guest_walk.h;
// tests with a map of fake pages). Everything read is the guest's and
// untrusted: callers bound what they use.
#include <cstdint>
#include <cstring>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tlbscope::introspect {

class GuestReader {
 public:
  virtual ~GuestReader() = default;
  virtual absl::Status Read(uint64_t gva, std::span<uint8_t> out) = 0;
  // The guest physical address `gva` maps to.
  virtual absl::StatusOr<uint64_t> Translate(uint64_t gva) = 0;

  // A little-endian integer of `size` (1, 2, 4 or 8) bytes at `gva`.
  absl::StatusOr<uint64_t> ReadU(uint64_t gva, uint32_t size) {
    if (size == 0 || size > 8) return absl::InvalidArgumentError("read size");
    uint8_t buf[8] = {};
    absl::Status s = Read(gva, std::span<uint8_t>(buf, size));
    if (!s.ok()) return s;
    uint64_t v = 0;
    memcpy(&v, buf, size);
    return v;
  }
};

// The registers a probe reads at a function's entry (System V: arguments in
// rdi, rsi, rdx, rcx, r8, r9) or return (rax).
struct ProbeRegs {
  uint64_t rip = 0, rsp = 0, rax = 0;
  uint64_t arg[6] = {};
  uint64_t cr3 = 0;
  uint64_t gs_base = 0;  // the kernel's per-CPU base (0: not known)
};

}  // namespace tlbscope::introspect
