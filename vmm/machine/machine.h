#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tlbscope/v1/trace.pb.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/devices/probe_channel.h"
#include "vmm/rpc/server.h"
#include "vmm/trace/pipeline.h"
#include "vmm/trap/emulation_fixups.h"
#include "vmm/trap/trap_engine.h"
#include "vmm/vcpu/vcpu_runner.h"

namespace tlbscope {

inline constexpr int kMaxVcpus = 64;

// Appended to a Linux kernel's command line on kvm_pvm (docs/linux.md): no
// XSAVE (so no AVX either) and no SSSE3/SSE4/AES/PCLMUL/SHA code paths
// (chacha, blake2s, crc32c...), which KVM's instruction emulator cannot run.
inline constexpr const char* kPvmLinuxOptions =
    "noxsave clearcpuid=ssse3,sse4_1,sse4_2,aes,pclmulqdq,sha_ni";

struct MachineConfig {
  std::string kernel_path;
  std::string initrd_path;  // --initrd: Linux's initramfs (PVH module 0 / boot_params ramdisk)
  BootProtocol boot = BootProtocol::kAuto;
  std::string cmdline;
  int smp = 1;
  uint64_t mem_mib = 128;
  double timeout_s = 300;  // 0: none
  bool serial_to_stdout = true;
  std::string serial_log;
  std::string kvm_device = "/dev/kvm";
  bool trap = true;  // trap the kernel's TLB instructions
  BreakpointPolicy breakpoints = BreakpointPolicy::kAuto;
  bool linux_cpu_fixups = true;  // kvm_pvm: append kPvmLinuxOptions for a Linux kernel
  bool trap_entry_text = true;   // false: .entry.text sites (PTI CR3 switches) are not traced
  uint64_t step_window = 0;      // single-step each vCPU's first N kernel instructions
  std::string record_path;       // --record FILE
  std::string trap_log;          // --trap-log FILE: one line per trapped instruction
  // Linux probes (vmm/linux): on for a Linux kernel whose knowledge is
  // complete (--no-linux-probes: off); extra sources of that knowledge.
  bool linux_probes = true;
  std::string system_map;          // --system-map FILE
  std::string kernel_btf;          // --kernel-btf FILE (detached BTF)
  std::vector<std::string> holds;  // --hold SPEC (vmm/hold/hold_spec.h), as given
  // TraceService (gRPC): on when `serve.listen` is set.
  ServeOptions serve;
  bool wait_for_subscriber = false;
  uint64_t retain = 1'000'000;  // events kept in memory for subscribers
  double linger_s = 10;         // after the guest stops, wait for subscribers to catch up
  // More sinks on the event path (the in-process collector), after the recorder.
  std::vector<EventSink*> extra_sinks;
  // Whole console lines for stdout go here instead, when set (the status line).
  std::function<void(const std::string&)> console_writer;
};

// Checks ranges and combinations; InvalidArgument naming the option.
absl::Status ValidateConfig(const MachineConfig& config);

// What the trap engine did, copied out after the vCPUs stopped.
struct TrapSummary {
  bool enabled = false;
  std::string note;  // why trapping is off or partial, when it is
  TrapPlan plan;
  std::vector<TlbSite> armed;                 // sites with a debug register
  std::vector<TlbSite> patched;               // sites with an int3
  std::vector<TlbSite> uncovered;             // sites nothing traps
  std::vector<TlbCounts> trapped;             // per vCPU, every site
  std::vector<TlbCounts> trapped_after_boot;  // per vCPU, boot-time sites left out
  std::vector<std::optional<TrapEngine::StepWindowReport>> windows;  // per vCPU
  std::vector<TlbSite> excluded;  // sites left out on purpose (--no-trap-entry-text, .altinstr)
  // Sites the kernel's alternatives put into its text at boot: an int3 on
  // each once that patching is done (vmm/linux/alt_sites.h), and what came
  // of it after the run.
  std::vector<TlbSite> boot_patched;
  TrapEngine::DeferredReport deferred;
};

// The plan as the trace header and the results file record it.
v1::TrapPlan TrapPlanToProto(const TrapSummary& summary);

// What the Linux probes did (vmm/linux), copied out after the run.
struct ProbeSummary {
  bool enabled = false;
  std::string note;               // why they are off, or what of the plan failed
  std::vector<std::string> plan;  // one line per breakpoint (entries, loads, sync_core sites)
  std::vector<std::string>
      supplies;  // event kinds beyond the base set (LinuxProbes::SuppliedEvents)
  uint64_t hits = 0, unmatched = 0, events = 0, read_failures = 0, emulated = 0, stepped = 0,
           return_place_failures = 0;
};

struct RunOutcome {
  VcpuStop first_stop;               // why the VM stopped
  std::vector<VcpuStop> vcpu_stops;  // why each vCPU stopped, by index
  LoadedKernel kernel;
  GuestReport report;
  TrapSummary traps;
  ProbeSummary probes;
  std::vector<std::string> holds;  // --hold: one summary line each (Coordinator::Summary)
  std::string serial;              // the whole serial transcript
  std::chrono::nanoseconds duration{};
  int exit_code = 0;
  TracePipeline::Counters trace;  // events through the pipeline
  FixupCounts fixups;             // emulation failures the VMM handled (int3, cmpxchg16b, ...)
  // Output files (--record, --trap-log, --serial-log) whose writes failed:
  // one line each, naming the flag and the file.
  std::vector<std::string> output_errors;
};

// Builds the VM, loads the kernel, runs every vCPU on its own thread until
// the guest exits, crashes, or the timeout expires, and says why it ended.
// An error Status means the VM never ran (bad input: InvalidArgument).
absl::StatusOr<RunOutcome> RunMachine(const MachineConfig& config);

}  // namespace tlbscope
