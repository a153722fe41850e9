#pragma once

#include <string>
#include <string_view>

namespace tlbscope {

// Why a vCPU, and so the VM, stopped. Every way out has one.
enum class StopReason {
  kGuestExit,        // the guest wrote its exit code to port 0xf4
  kGuestAssert,      // guest assertion failed (probe channel)
  kGuestException,   // guest exception handler reported a fault (probe channel)
  kBadProbeMessage,  // malformed probe-channel message
  kTripleFault,      // KVM_EXIT_SHUTDOWN
  kGuestPanic,       // a Linux guest's console said its kernel panicked
  kInternalError,    // KVM_EXIT_INTERNAL_ERROR (e.g. emulation failure)
  kEntryFailure,     // KVM_EXIT_FAIL_ENTRY
  kUnknownPort,      // port I/O nobody owns
  kUnhandledExit,    // an exit reason tlbscope does not handle (MMIO, HLT, ...)
  kSystemEvent,      // KVM_EXIT_SYSTEM_EVENT (reset, crash)
  kKvmError,         // a KVM ioctl failed while running
  kTimeout,          // --timeout expired
  kInterrupted,      // SIGINT / SIGTERM to tlbscope
  kStoppedByVmm,     // another vCPU stopped the VM
};

std::string_view StopReasonName(StopReason r);

// Process exit status for a run that ended with `reason` (the guest's own
// code for kGuestExit). Documented in the README.
int ExitCodeFor(StopReason reason, int guest_code);

struct StopRequest {
  StopReason reason = StopReason::kStoppedByVmm;
  int guest_code = 0;   // kGuestExit only
  std::string message;  // one line, without the vCPU (the vCPU thread adds it)
  // The message already names the guest RIP that matters (a fault the guest
  // reported), so the vCPU's own RIP, inside the guest's handler, is left out.
  bool names_rip = false;
};

}  // namespace tlbscope
