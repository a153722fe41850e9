#include "vmm/machine/machine.h"

#include "absl/strings/str_format.h"
#include "common/log.h"
#include "vmm/boot/layout.h"
#include "vmm/hold/hold_spec.h"
#include "vmm/machine/guest_tsc.h"
#include "vmm/machine/kernel_identity.h"
#include "vmm/machine/machine_parts.h"
#include "vmm/machine/trap_coverage.h"

// RunMachine: load the guest, create the VM, build the devices, plan the
// traps, start the outputs, run the vCPUs, collect the outcome. Each step
// is a function of machine_setup.cc, machine_traps.cc, machine_outputs.cc
// and machine_run.cc.
namespace tlbscope {
namespace {

// What the run found, once the vCPUs have stopped; and the trace's end.
void CollectOutcome(const MachineConfig& config, LoadedGuest& guest, const Devices& devices,
                    const TrapEngine* traps, const EmulationFixups& fixups, SerialSink& sink,
                    TracePipeline& trace, RunOutcome& out) {
  sink.Flush();
  out.kernel = std::move(guest.kernel);
  out.report = devices.probe.report();
  for (int i = 0; traps != nullptr && i < config.smp; ++i) {
    out.traps.trapped.push_back(traps->trapped(i));
    out.traps.trapped_after_boot.push_back(traps->trapped_after_boot(i));
    out.traps.windows.push_back(traps->step_window(i));
  }
  out.serial = sink.transcript();
  out.fixups = fixups.total();
  out.exit_code = ExitCodeFor(out.first_stop.request.reason, out.first_stop.request.guest_code);
  // Missed traps are tlbscope's failure, not the guest's: say so in the status.
  if (out.exit_code == 0 && CountCoverageFailures(out.traps, out.report) > 0) out.exit_code = 6;
  v1::TraceEnd trace_end;
  trace_end.set_stop_reason(std::string(StopReasonName(out.first_stop.request.reason)));
  trace_end.set_stop_message(out.first_stop.Describe());
  trace_end.set_exit_code(out.exit_code);
  trace.Finish(trace_end);
  out.trace = trace.counters();
}

// The trap engine and, for a Linux kernel, its probes.
absl::StatusOr<std::unique_ptr<TrapEngine>> PlanTraps(const MachineConfig& config,
                                                      LoadedGuest& guest, RunOutcome& out,
                                                      std::unique_ptr<LinuxProbes>* probes) {
  if (!config.trap) {
    *probes = CreateProbes(config, guest, nullptr, out.probes);
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<TrapEngine>> engine = CreateTrapEngine(config, guest, out.traps);
  if (!engine.ok()) return engine.status();
  *probes = CreateProbes(config, guest, engine->get(), out.probes);
  DeferAlternativeSites(guest, engine->get(), probes->get(), out.traps);
  if (*probes && (*probes)->waits_for_boot()) {
    (*probes)->SetAfterBoot([e = engine->get()] { e->AfterKernelBoot(); });
  }
  return engine;
}

// After every breakpoint user is known: a vCPU armed before the holds'
// int3s would take them as its own #BP on a host where int3 exits only
// with KVM_GUESTDBG_USE_SW_BP (VMX/SVM).
absl::Status ArmVcpus(TrapEngine* engine, VmParts& vm) {
  if (engine == nullptr) return absl::OkStatus();
  for (Vcpu& v : vm.vcpus) {
    if (absl::Status s = engine->Arm(v); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateConfig(const MachineConfig& c) {
  if (c.smp < 1 || c.smp > kMaxVcpus) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--smp must be between 1 and %d (got %d)", kMaxVcpus, c.smp));
  }
  if (c.mem_mib < layout::kMinMemMiB || c.mem_mib > layout::kMaxMemMiB) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--mem must be between %d and %d MiB (got %d)", layout::kMinMemMiB,
                        layout::kMaxMemMiB, c.mem_mib));
  }
  // A year at most: beyond that a deadline overflows the clock (and NaN
  // fails every comparison, so it is tested the positive way).
  constexpr double kMaxTimeoutS = 365.0 * 24 * 3600;
  if (!(c.timeout_s >= 0 && c.timeout_s <= kMaxTimeoutS)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--timeout must be >= 0 and at most %.0f s, a year (got %g)", kMaxTimeoutS, c.timeout_s));
  }
  if (c.kernel_path.empty()) return absl::InvalidArgumentError("--kernel is empty");
  for (const std::string& h : c.holds) {
    if (absl::StatusOr<hold::Spec> s = hold::ParseSpec(h, c.smp); !s.ok()) return s.status();
  }
  if (!c.holds.empty() && !c.trap) {
    return absl::InvalidArgumentError("--hold needs the trap engine's breakpoints: not --no-trap");
  }
  if (c.wait_for_subscriber && c.serve.listen.empty()) {
    return absl::InvalidArgumentError("--wait-for-subscriber needs --listen");
  }
  if (c.retain == 0) return absl::InvalidArgumentError("--retain must be at least 1");
  // --listen's address, TLS pairing and token: bad input, found before the
  // host (KVM) is touched.
  if (!c.serve.listen.empty()) {
    if (absl::StatusOr<std::string> t = LoadServeSecrets(c.serve); !t.ok()) return t.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<RunOutcome> RunMachine(const MachineConfig& config) {
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<LoadedGuest>> guest = LoadGuest(config);
  if (!guest.ok()) return guest.status();
  absl::StatusOr<std::unique_ptr<SerialSink>> sink =
      SerialSink::Create(config.serial_to_stdout, config.serial_log);
  if (!sink.ok()) return sink.status();
  if (config.console_writer) (*sink)->SetWriter(config.console_writer);
  absl::StatusOr<std::unique_ptr<VmParts>> vm = CreateVm(config, **guest);
  if (!vm.ok()) return vm.status();
  Devices devices(&(*vm)->vm, sink->get(), &(*guest)->mem, (*guest)->kernel.is_linux);

  RunOutcome out;
  std::unique_ptr<LinuxProbes> probes;
  absl::StatusOr<std::unique_ptr<TrapEngine>> traps = PlanTraps(config, **guest, out, &probes);
  if (!traps.ok()) return traps.status();
  absl::StatusOr<std::unique_ptr<HoldHandle>> holds =
      CreateHolds(config, **guest, traps->get(), probes.get());
  if (!holds.ok()) return holds.status();
  if (absl::Status s = ArmVcpus(traps->get(), **vm); !s.ok()) return s;

  // The event path: vCPU threads -> per-vCPU rings -> sequencer -> sinks.
  absl::StatusOr<v1::KernelIdentity> identity =
      IdentifyKernel((*guest)->kernel_bytes, config.kernel_path);
  if (!identity.ok()) return identity.status();
  v1::TraceHeader header =
      BuildHeader(config, (*guest)->kernel, *identity, traps->get(), out.traps, &out.probes);
  TracePipeline trace(config.smp);
  absl::StatusOr<std::unique_ptr<TraceOutputs>> outputs = StartOutputs(config, header, trace);
  if (!outputs.ok()) return outputs.status();
  if (*traps) {
    (*traps)->SetEventCallback(TrapEventPath(trace, probes.get()));
  }
  if (probes) {
    // The tracker's events join the hitting vCPU's own order.
    probes->SetEmit([&trace](uint32_t cpu, v1::Event e) { trace.Append(cpu, std::move(e)); });
  }
  devices.probe.SetTrace(&trace);
  devices.mark_port.SetTrace(&trace);
  trace.Start();

  EmulationFixups fixups(traps->get(), &(*guest)->mem, config.smp);
  RunVcpus(config, (*vm)->vcpus, devices.bus, &fixups, traps->get(), trace,
           (*outputs)->service.get(), holds->get(), out);
  CheckGuestTscStayed((*vm)->vcpus);
  if (*holds) out.holds = (*holds)->probes->Summaries();
  for (const std::string& line : out.holds) Log("%s", line);
  if (probes) SummarizeProbes(*probes, out.probes);
  if (*traps) SummarizeDeferredSites(**traps, out.traps);
  CollectOutcome(config, **guest, devices, traps->get(), fixups, **sink, trace, out);
  FinishOutputs(config, **outputs, **sink, out);
  return out;
}

}  // namespace tlbscope
