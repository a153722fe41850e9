#pragma once

#include <linux/kvm.h>

#include <optional>

#include "vmm/vcpu/io_bus.h"
#include "vmm/vcpu/stop_reason.h"

namespace tlbscope {

// What the vCPU loop does after one KVM_RUN exit.
struct ExitAction {
  enum class Kind {
    kContinue,
    kStop,
    // A debug exit or emulation failure: the trap engine may claim it;
    // if it does not, the VM stops with `stop`.
    kTrapCandidate,
  };
  Kind kind = Kind::kContinue;
  StopRequest stop;  // when kStop or kTrapCandidate
  static ExitAction Continue() { return {}; }
  static ExitAction Stop(StopRequest s) { return {Kind::kStop, std::move(s)}; }
  static ExitAction TrapCandidate(StopRequest s) { return {Kind::kTrapCandidate, std::move(s)}; }
};

// A pure function of the exit in `run` and the devices on `bus` (after
// Firecracker's run_emulation): it touches nothing else, so unit tests drive
// it with made-up kvm_run structures. For port reads it fills the data area
// inside `run`, as KVM expects on the next KVM_RUN.
ExitAction DispatchExit(kvm_run& run, int vcpu, IoBus& bus);

}  // namespace tlbscope
