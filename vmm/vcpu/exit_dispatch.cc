#include "vmm/vcpu/exit_dispatch.h"

#include <string>

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

ExitAction StopWith(StopReason reason, std::string message) {
  return ExitAction::Stop(StopRequest{reason, 0, std::move(message)});
}

ExitAction DispatchIo(kvm_run& run, int vcpu, IoBus& bus) {
  uint8_t* data = reinterpret_cast<uint8_t*>(&run) + run.io.data_offset;
  const uint8_t size = run.io.size;
  if (size != 1 && size != 2 && size != 4) {
    return StopWith(StopReason::kUnhandledExit,
                    absl::StrFormat("port I/O of size %d at port %#x", size, run.io.port));
  }
  // String I/O (rep outs/ins) arrives as `count` back-to-back elements.
  for (uint32_t i = 0; i < run.io.count; ++i) {
    std::span<uint8_t> elem(data + i * size, size);
    IoOutcome out = run.io.direction == KVM_EXIT_IO_OUT ? bus.Write(vcpu, run.io.port, elem)
                                                        : bus.Read(vcpu, run.io.port, elem);
    if (out) return ExitAction::Stop(std::move(*out));
  }
  return ExitAction::Continue();
}

std::string InternalErrorText(const kvm_run& run) {
  const auto& ie = run.internal;
  std::string name;
  switch (ie.suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
      name = "emulation failure";
      break;
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      name = "exception while delivering an exception";
      break;
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      name = "event delivery failed";
      break;
    default:
      name = "suberror";
  }
  std::string text = absl::StrFormat("KVM internal error (%s, suberror %d)", name, ie.suberror);
  if (ie.suberror == KVM_INTERNAL_ERROR_EMULATION &&
      (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
    text += ", instruction bytes";
    uint32_t n = std::min<uint32_t>(run.emulation_failure.insn_size, 15);
    for (uint32_t i = 0; i < n; ++i) {
      text += absl::StrFormat(" %02x", run.emulation_failure.insn_bytes[i]);
    }
  }
  return text;
}

}  // namespace

ExitAction DispatchExit(kvm_run& run, int vcpu, IoBus& bus) {
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return DispatchIo(run, vcpu, bus);
    case KVM_EXIT_INTR:
      return ExitAction::Continue();  // a signal; the caller checks why
    case KVM_EXIT_SHUTDOWN:
      return StopWith(StopReason::kTripleFault, "guest shut down (triple fault)");
    case KVM_EXIT_INTERNAL_ERROR:
      return ExitAction::TrapCandidate(
          StopRequest{StopReason::kInternalError, 0, InternalErrorText(run)});
    case KVM_EXIT_FAIL_ENTRY:
      return StopWith(StopReason::kEntryFailure,
                      absl::StrFormat("KVM_RUN entry failed, hardware reason %#x",
                                      run.fail_entry.hardware_entry_failure_reason));
    case KVM_EXIT_MMIO:
      return StopWith(
          StopReason::kUnhandledExit,
          absl::StrFormat("%s of %d bytes at unassigned MMIO address %#x",
                          run.mmio.is_write ? "write" : "read", run.mmio.len, run.mmio.phys_addr));
    case KVM_EXIT_SYSTEM_EVENT: {
      uint32_t type = run.system_event.type;
      const char* what = type == KVM_SYSTEM_EVENT_SHUTDOWN ? "shutdown"
                         : type == KVM_SYSTEM_EVENT_RESET  ? "reset"
                         : type == KVM_SYSTEM_EVENT_CRASH  ? "crash"
                                                           : "event";
      return StopWith(
          StopReason::kSystemEvent,
          absl::StrFormat("guest system %s (KVM_EXIT_SYSTEM_EVENT type %d)", what, type));
    }
    case KVM_EXIT_HLT:
      return StopWith(StopReason::kUnhandledExit, "KVM_EXIT_HLT although the LAPIC is in-kernel");
    case KVM_EXIT_DEBUG:
      return ExitAction::TrapCandidate(
          StopRequest{StopReason::kUnhandledExit, 0,
                      absl::StrFormat("debug exit (exception %d, dr6 %#x) with no trap installed",
                                      run.debug.arch.exception, run.debug.arch.dr6)});
    default:
      return StopWith(StopReason::kUnhandledExit,
                      absl::StrFormat("unhandled KVM exit reason %d", run.exit_reason));
  }
}

}  // namespace tlbscope
