#pragma once

// What the trap engine hands a hit on one of the probes' int3s
// (ProbePoints) to. The Linux probes (vmm/linux) implement it; the engine
// knows only this.

#include <cstdint>

#include "vmm/trap/vcpu_state.h"

namespace tlbscope {

class ProbeClient {
 public:
  enum class Next {
    kResume,  // the client performed the instruction under the int3 (RIP moved on)
    kStep,    // the engine executes it: int3 lifted, others parked, one step
  };
  virtual ~ProbeClient() = default;
  // On vCPU `vcpu`'s thread; `state`'s RIP is the int3's address. The
  // client may change registers (and mark them dirty); the engine commits.
  virtual Next OnProbeHit(int vcpu, VcpuStateView& state) = 0;
  // Whether `gva` is (or will be, once placed) one of this client's own
  // int3s: another client sharing the address must hand it such hits.
  virtual bool Owns(uint64_t /*gva*/) const { return false; }
};

}  // namespace tlbscope
