#include "vmm/vcpu/stop_reason.h"

namespace tlbscope {

std::string_view StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kGuestExit:
      return "guest-exit";
    case StopReason::kGuestAssert:
      return "guest-assert";
    case StopReason::kGuestException:
      return "guest-exception";
    case StopReason::kBadProbeMessage:
      return "bad-probe-message";
    case StopReason::kTripleFault:
      return "triple-fault";
    case StopReason::kGuestPanic:
      return "guest-panic";
    case StopReason::kInternalError:
      return "kvm-internal-error";
    case StopReason::kEntryFailure:
      return "entry-failure";
    case StopReason::kUnknownPort:
      return "unknown-port";
    case StopReason::kUnhandledExit:
      return "unhandled-exit";
    case StopReason::kSystemEvent:
      return "system-event";
    case StopReason::kKvmError:
      return "kvm-error";
    case StopReason::kTimeout:
      return "timeout";
    case StopReason::kInterrupted:
      return "interrupted";
    case StopReason::kStoppedByVmm:
      return "stopped";
  }
  return "?";
}

int ExitCodeFor(StopReason reason, int guest_code) {
  switch (reason) {
    case StopReason::kGuestExit:
      return guest_code & 0xff;
    case StopReason::kGuestAssert:
      return 1;
    case StopReason::kTimeout:
      return 4;
    case StopReason::kKvmError:
      return 5;
    case StopReason::kInterrupted:
      return 130;
    default:
      return 3;  // the guest crashed or did something tlbscope cannot serve
  }
}

}  // namespace tlbscope
