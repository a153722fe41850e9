#pragma once

// The int3s of the guest-kernel probes (vmm/linux): breakpoints at
// instructions that are not TLB sites, placed and removed while the guest
// runs (a return breakpoint lives only while some vCPU waits for it). Each
// address is counted: several vCPUs may wait on the same return address.
// Thread-safe; only one byte of guest memory per address is ever written.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "vmm/kvm/guest_memory.h"

namespace tlbscope {

class ProbePoints {
 public:
  static constexpr uint8_t kInt3 = 0xcc;
  explicit ProbePoints(GuestMemory* mem) : mem_(mem) {}

  // An int3 at kernel address `gva`, whose byte is at guest physical `gpa`.
  // A second Place of the same address counts it once more. Refused (and
  // nothing written) when the byte is outside guest memory or already an
  // int3 that is not ours (a TLB site's, or the kernel's own).
  absl::Status Place(uint64_t gva, uint64_t gpa);
  // One Place undone; the last one puts the original byte back.
  void Remove(uint64_t gva);
  bool Contains(uint64_t gva) const;
  // For a step over the instruction: the original byte back while the
  // caller holds the other vCPUs; Rearm writes the int3 again if the
  // address is still placed (a Remove meanwhile leaves it out).
  absl::Status Lift(uint64_t gva);
  absl::Status Rearm(uint64_t gva);
  // After code patching the guest did itself (Linux's alternatives and
  // paravirt calls at boot): if the byte at a placed address is no longer
  // our int3, the guest's new byte becomes the original and the int3 goes
  // back. Whether it had to (false: still ours, or not placed).
  absl::StatusOr<bool> Retake(uint64_t gva);
  // Whether Retake would have to: placed, not lifted for a step, and the
  // byte in guest memory is not the int3.
  bool Overwritten(uint64_t gva) const;
  // An int3 exit at `gva` that is none of ours now but was once: the int3
  // was removed while this vCPU was already on its way to the exit.
  bool WasOursAndIsGone(uint64_t gva) const;

  size_t size() const;
  uint64_t placed_total() const;  // Place calls that wrote an int3

 private:
  struct Point {
    uint64_t gpa;
    uint8_t original;
    int refs;
    bool lifted;
  };
  GuestMemory* mem_;
  mutable std::mutex mu_;
  std::map<uint64_t, Point> points_;
  std::set<uint64_t> ever_;
  uint64_t placed_total_ = 0;
};

}  // namespace tlbscope
