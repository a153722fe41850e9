#pragma once

// The pieces RunMachine (machine.cc) is made of, in the order it runs them:
// load the guest, create the VM and its vCPUs, build the devices, plan the
// traps, start the trace outputs, run the vCPUs, and collect the outcome.
// Internal to the machine layer.

#include <memory>
#include <span>
#include <vector>

#include "introspect/symbols.h"
#include "vmm/devices/exit_port.h"
#include "vmm/devices/legacy_ports.h"
#include "vmm/devices/mark_port.h"
#include "vmm/devices/serial.h"
#include "vmm/kvm/vm.h"
#include "vmm/linux/linux_probes.h"
#include "vmm/machine/hold_probes.h"
#include "vmm/machine/machine.h"
#include "vmm/rpc/retention.h"
#include "vmm/rpc/trace_service.h"
#include "vmm/trace/recorder.h"
#include "vmm/trace/trap_log.h"

namespace tlbscope {

// Guest memory with the kernel (and initrd, command line, boot tables) in it.
struct LoadedGuest {
  GuestMemory mem;
  std::vector<uint8_t> kernel_bytes;  // the file, read once
  LoadedKernel kernel;
  bool emulated_cpl0 = false;  // kvm_pvm: kernel code runs in KVM's emulator
  // The bytes the site scan reads: a bzImage's vmlinux, or the file itself.
  std::span<const uint8_t> image() const {
    return kernel.vmlinux.empty() ? std::span<const uint8_t>(kernel_bytes) : kernel.vmlinux;
  }
};
absl::StatusOr<std::unique_ptr<LoadedGuest>> LoadGuest(const MachineConfig& config);

// The VM with the guest's memory mapped and its vCPUs (vCPU 0 at the entry).
struct VmParts {
  KvmSystem kvm;
  Vm vm;
  std::vector<Vcpu> vcpus;
};
absl::StatusOr<std::unique_ptr<VmParts>> CreateVm(const MachineConfig& config, LoadedGuest& guest);

// The port devices on one bus; they live as long as the vCPU threads.
struct Devices {
  Devices(Vm* vm, SerialSink* sink, GuestMemory* mem, bool is_linux);
  Serial16550 serial;
  ExitPort exit_port;
  PostPort post_port;
  ProbeChannel probe;
  MarkPort mark_port;
  LinuxLegacyPorts legacy;
  IoBus bus;
};

absl::StatusOr<std::unique_ptr<TrapEngine>> CreateTrapEngine(const MachineConfig& config,
                                                             LoadedGuest& guest,
                                                             TrapSummary& summary);
// The Linux probes for a Linux guest when the config and the host allow
// them and the kernel's knowledge is complete; else nullptr, and
// summary.note says why (printed as one line). Registers them with the
// engine; call before the vCPUs are armed.
std::unique_ptr<LinuxProbes> CreateProbes(const MachineConfig& config, LoadedGuest& guest,
                                          TrapEngine* engine, ProbeSummary& summary);
// What the trap engine does with each trapped instruction: for a CR3
// write the probes' context_switch first, then the event, both into the
// vCPU's own order on `trace`.
std::function<void(const TrapEvent&)> TrapEventPath(TracePipeline& trace, LinuxProbes* probes);
// The TLB sites of .altinstr_replacement (summary.excluded) mapped to
// where the kernel's alternatives put them and handed to the engine,
// their int3s placed at the probes' boot gate; summary.note says what
// came of it (vmm/machine/machine_alt_sites.cc). Before the vCPUs are armed.
void DeferAlternativeSites(LoadedGuest& guest, TrapEngine* engine, LinuxProbes* probes,
                           TrapSummary& summary);
// After the run: which got their int3 (summary.deferred), and a line; and
// a line naming the start's TLB-site int3s the boot patching wrote over.
void SummarizeDeferredSites(const TrapEngine& engine, TrapSummary& summary);
// The probes' counts into the summary, and one line saying them.
void SummarizeProbes(const LinuxProbes& probes, ProbeSummary& summary);
// `probes`: whether a Linux kernel's probes are on (event_source).
v1::TraceHeader BuildHeader(const MachineConfig& config, const LoadedKernel& kernel,
                            const v1::KernelIdentity& identity, const TrapEngine* traps,
                            const TrapSummary& summary, const ProbeSummary* probes = nullptr);

// The sinks of the event path a run asked for: the trace file, the trap
// log, and the gRPC service with its retention.
struct TraceOutputs {
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<TrapLogWriter> trap_log;
  std::unique_ptr<Retention> retention;
  std::unique_ptr<TraceServiceImpl> service;
  std::unique_ptr<RpcServer> server;
};
absl::StatusOr<std::unique_ptr<TraceOutputs>> StartOutputs(const MachineConfig& config,
                                                           const v1::TraceHeader& header,
                                                           TracePipeline& trace);
// After the trace's end: subscribers get --linger to catch up; write
// failures become output errors.
void FinishOutputs(const MachineConfig& config, TraceOutputs& outputs, const SerialSink& sink,
                   RunOutcome& out);

// --hold: the holds' probe int3s (in front of the Linux probes) and the
// symbols their sites and timeout lines use.
struct HoldHandle {
  introspect::KernelSymbols symbols;
  std::unique_ptr<HoldProbes> probes;
};
// nullptr without --hold. Errors name the --hold and what is wrong (an
// unknown symbol, a host that cannot trap int3s in the kernel).
absl::StatusOr<std::unique_ptr<HoldHandle>> CreateHolds(const MachineConfig& config,
                                                        LoadedGuest& guest, TrapEngine* engine,
                                                        LinuxProbes* probes);
// "flush_tlb_func+0x12 (rip 0x...)", or "rip 0x..." without a symbol.
std::string WhereIs(const introspect::KernelSymbols& symbols, uint64_t rip);

// Runs the vCPUs until the first stop, the timeout or a signal; fills in
// first_stop, vcpu_stops and duration.
// With `holds`, a held vCPU does not keep the others' steps waiting and
// every hold ends when the VM stops.
void RunVcpus(const MachineConfig& config, std::vector<Vcpu>& vcpus, IoBus& bus,
              TrapExitHandler* handler, TrapEngine* traps, TracePipeline& trace,
              TraceServiceImpl* service, HoldHandle* holds, RunOutcome& out);

}  // namespace tlbscope
