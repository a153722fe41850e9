#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace tlbscope {

// What an INVPCID at CPL0 did in the live probe.
enum class InvpcidBehaviour { kExecutes, kEmulationFailure, kFaults, kOther };
const char* InvpcidBehaviourName(InvpcidBehaviour b);

// What this host's KVM can do for trapping, read from KVM_CHECK_EXTENSION,
// KVM_GET_SUPPORTED_CPUID, /sys/module and /proc/cpuinfo, and from small
// live probes (a throwaway VM per probe).
struct HostCaps {
  std::string kvm_module;  // kvm_intel, kvm_amd, kvm_pvm, ...
  bool cpu_vmx = false, cpu_svm = false;
  bool cap_guest_debug = false;
  bool cap_blockirq = false;  // KVM_GUESTDBG_BLOCKIRQ in KVM_CAP_SET_GUEST_DEBUG2
  bool cap_sync_regs = false;
  bool cap_vcpu_events = false;
  int hw_breakpoints = 0;  // debug registers for instruction breakpoints
  bool cpuid_pcid = false, cpuid_invpcid = false, cpuid_lam = false, cpuid_pge = false,
       cpuid_la57 = false;
  // Live probes (CPL0, 32-bit protected mode).
  bool hw_breakpoint_fires = false;
  bool int3_exits = false;  // KVM_GUESTDBG_USE_SW_BP delivers KVM_EXIT_DEBUG for int3
  // int3 at CPL0 is an emulation-failure exit instead (KVM's emulator runs
  // guest kernel code and cannot emulate it): usable as a breakpoint too.
  bool int3_emulation_failure = false;
  bool single_step_works = false;
  InvpcidBehaviour invpcid = InvpcidBehaviour::kOther;
};

// The KVM vendor module loaded here (kvm_intel, kvm_amd, kvm_pvm), from
// /sys/module; "" if none is known.
std::string DetectKvmModule();

// Probes the host. Errors only when /dev/kvm itself cannot be used.
absl::StatusOr<HostCaps> ProbeHost(const std::string& kvm_device = "/dev/kvm");

}  // namespace tlbscope
