#include "vmm/machine/machine.h"

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>

#include "absl/strings/str_format.h"
#include "tlbscope/probe_abi.h"
#include "vmm/boot/boot_info.h"
#include "vmm/boot/cpu_setup.h"
#include "vmm/boot/file_bytes.h"
#include "vmm/boot/layout.h"
#include "vmm/devices/exit_port.h"
#include "vmm/devices/legacy_ports.h"
#include "vmm/devices/serial.h"
#include "vmm/kvm/vm.h"
#include "vmm/machine/kernel_identity.h"
#include "vmm/machine/trap_coverage.h"
#include "vmm/rpc/retention.h"
#include "vmm/rpc/server.h"
#include "vmm/rpc/trace_service.h"
#include "vmm/trace/proto_text.h"
#include "vmm/trace/recorder.h"
#include "vmm/trace/trace_reader.h"
#include "vmm/trace/trap_log.h"
#include "vmm/trap/host_caps.h"
#include "vmm/trap/site_scanner.h"
#include "vmm/trap/trap_event_proto.h"

namespace tlbscope {
namespace {

std::atomic<int> g_interrupt_signal{0};
void OnInterrupt(int sig) { g_interrupt_signal.store(sig); }

// Parks and resumes the other vCPUs for a software-breakpoint step.
class RunnerControl : public VmControl {
 public:
  explicit RunnerControl(std::vector<std::unique_ptr<VcpuRunner>>* runners) : runners_(runners) {}
  void PauseOthers(int self) override {
    for (auto& r : *runners_) {
      if (r->index() != self) r->Pause();
    }
  }
  void ResumeOthers(int self) override {
    for (auto& r : *runners_) {
      if (r->index() != self) r->Resume();
    }
  }

 private:
  std::vector<std::unique_ptr<VcpuRunner>>* runners_;
};

// Collects the first stop that ends the VM; later ones (the others being
// stopped because of it) only fill in per-vCPU reasons.
class StopLatch {
 public:
  void Report(const VcpuStop& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_ && s.request.reason != StopReason::kStoppedByVmm) first_ = s;
    cv_.notify_all();
  }
  // Waits until a vCPU stops the VM or `deadline`; false on timeout.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!first_) {
      if (g_interrupt_signal.load() != 0) return false;
      auto step =
          std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
      cv_.wait_until(lock, step);
      if (!first_ && std::chrono::steady_clock::now() >= deadline) return false;
    }
    return true;
  }
  std::optional<VcpuStop> first() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<VcpuStop> first_;
};

// Scans the kernel for TLB sites and plans their traps on this host. A
// kernel without symbols or sections to scan runs untraced, with a note.
absl::StatusOr<std::unique_ptr<TrapEngine>> CreateTrapEngine(const MachineConfig& config,
                                                             std::span<const uint8_t> kernel_bytes,
                                                             const LoadedKernel& kernel,
                                                             GuestMemory& mem,
                                                             TrapSummary& summary) {
  absl::StatusOr<HostCaps> caps = ProbeHost(config.kvm_device);
  if (!caps.ok()) return caps.status();
  std::vector<TlbSite> sites;
  absl::StatusOr<SiteScan> scan = ScanKernelBytes(kernel_bytes, config.kernel_path);
  if (scan.ok()) {
    for (TlbSite& s : scan->sites) {
      // Alternative replacements never run where they are linked: the
      // kernel copies them over the original code.
      bool excluded = s.section == ".altinstr_replacement" ||
                      (!config.trap_entry_text &&
                       (s.section == ".entry.text" || s.klass == SiteClass::kEntryPti));
      (excluded ? summary.excluded : sites).push_back(std::move(s));
    }
    if (!summary.excluded.empty()) {
      summary.note =
          absl::StrFormat("%d sites not traced (%s.altinstr_replacement)", summary.excluded.size(),
                          config.trap_entry_text ? "" : ".entry.text and PTI switches, ");
    }
  } else {
    summary.note = absl::StrFormat("no TLB sites scanned (%s)", scan.status().message());
  }
  BreakpointPolicy policy = config.breakpoints;
  const bool int3_works = caps->int3_emulation_failure || caps->int3_exits;
  if (policy == BreakpointPolicy::kAuto && int3_works && kernel.entry_vaddr != kernel.entry_paddr) {
    // Linux runs its boot code at the physical alias of its text too; a
    // debug register matches one linear address, an int3 every alias.
    policy = BreakpointPolicy::kSoftwareOnly;
    summary.note += absl::StrFormat("%sint3 on every site (the kernel runs code at two aliases)",
                                    summary.note.empty() ? "" : "; ");
  }
  if (kernel.protocol == BootProtocol::kLinux) {
    // Guest memory holds the compressed kernel until the guest's own
    // decompressor runs: nothing to patch an int3 into.
    policy = BreakpointPolicy::kHardwareOnly;
    summary.note += absl::StrFormat(
        "%s--boot linux: debug registers only (the kernel is decompressed by the guest; they "
        "match only without KASLR: add nokaslr)",
        summary.note.empty() ? "" : "; ");
  }
  auto engine = std::make_unique<TrapEngine>(*caps, std::move(sites), &mem, config.smp, policy);
  engine->PatchSoftwareBreakpoints();
  if (kernel.is_linux && kernel.entry_vaddr != 0) engine->SetRootProbe(kernel.entry_vaddr);
  engine->SetStepWindow(config.step_window);
  summary.enabled = true;
  summary.plan = engine->plan();
  for (const TlbSite* s : engine->armed()) summary.armed.push_back(*s);
  for (const TlbSite* s : engine->patched()) summary.patched.push_back(*s);
  for (const TlbSite* s : engine->uncovered()) summary.uncovered.push_back(*s);
  return engine;
}

v1::TraceHeader BuildHeader(const MachineConfig& config, const LoadedKernel& kernel,
                            const v1::KernelIdentity& identity, const TrapEngine* traps,
                            const TrapSummary& summary) {
  v1::TraceHeader h;
  h.set_schema_version(kTraceSchemaVersion);
  h.set_tlbscope_version(TLBSCOPE_VERSION);
  h.set_start_unix_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
  v1::VmConfig* vm = h.mutable_vm();
  vm->set_smp(config.smp);
  vm->set_mem_mib(config.mem_mib);
  SetTextAndBytes(
      config.cmdline, [&](std::string s) { vm->set_cmdline(s); },
      [&](std::string b) { vm->set_cmdline_bytes(b); });
  vm->set_boot_protocol(BootProtocolName(kernel.protocol));
  *h.mutable_kernel() = identity;
  if (traps != nullptr) {
    const HostCaps& c = traps->caps();
    v1::HostCapabilities* host = h.mutable_host();
    host->set_kvm_module(c.kvm_module);
    host->set_hw_breakpoints(c.hw_breakpoints);
    host->set_sync_regs(c.cap_sync_regs);
    host->set_int3_exits(c.int3_exits);
    host->set_int3_emulation_failure(c.int3_emulation_failure);
    host->set_single_step(c.single_step_works);
    host->set_invpcid_at_cpl0(InvpcidBehaviourName(c.invpcid));
    host->set_cpuid_pcid(c.cpuid_pcid);
    host->set_cpuid_invpcid(c.cpuid_invpcid);
    host->set_cpuid_lam(c.cpuid_lam);
    host->set_cpuid_pge(c.cpuid_pge);
    *h.mutable_traps() = TrapPlanToProto(summary);
  }
  return h;
}

}  // namespace

v1::TrapPlan TrapPlanToProto(const TrapSummary& summary) {
  v1::TrapPlan plan;
  plan.set_cr3(TrapStrategyName(summary.plan.cr3));
  plan.set_invlpg(TrapStrategyName(summary.plan.invlpg));
  plan.set_invpcid(TrapStrategyName(summary.plan.invpcid));
  for (const TlbSite& s : summary.armed) plan.add_hw_breakpoint_sites(SiteLabel(s));
  for (const TlbSite& s : summary.patched) plan.add_int3_sites(SiteLabel(s));
  for (const TlbSite& s : summary.uncovered) plan.add_uncovered_sites(SiteLabel(s));
  return plan;
}

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

  absl::StatusOr<GuestMemory> mem = GuestMemory::Create(config.mem_mib << 20);
  if (!mem.ok()) return mem.status();
  // The kernel file is read once: loaded, scanned for TLB sites, identified.
  absl::StatusOr<std::vector<uint8_t>> kernel_bytes = ReadFileBytes(config.kernel_path, "kernel");
  if (!kernel_bytes.ok()) return kernel_bytes.status();
  std::vector<uint8_t> initrd;
  if (!config.initrd_path.empty()) {
    absl::StatusOr<std::vector<uint8_t>> bytes = ReadFileBytes(config.initrd_path, "initrd");
    if (!bytes.ok()) return bytes.status();
    initrd = std::move(*bytes);
  }
  absl::StatusOr<LoadedKernel> kernel =
      LoadKernelBytes(*kernel_bytes, config.kernel_path, config.boot, config.cmdline, *mem,
                      InitrdFile{initrd, config.initrd_path});
  if (!kernel.ok()) return kernel.status();
  const bool emulated_cpl0 = DetectKvmModule() == "kvm_pvm";
  if (kernel->is_linux && emulated_cpl0 && config.linux_cpu_fixups) {
    // The guest kernel sees the host's CPUID here, whatever KVM_SET_CPUID2
    // says: only its own options keep it off what KVM's emulator cannot run.
    std::string cmdline = config.cmdline.empty() ? std::string(kPvmLinuxOptions)
                                                 : config.cmdline + " " + kPvmLinuxOptions;
    if (absl::Status s = WriteCmdline(*mem, cmdline); !s.ok()) return s;
    std::fprintf(stderr,
                 "tlbscope: kvm_pvm: appended \"%s\" to the Linux command line (the guest sees "
                 "the host's CPUID; KVM's emulator cannot run XSAVE or SIMD code; "
                 "--no-linux-cpu-fixups to leave it alone)\n",
                 kPvmLinuxOptions);
  }
  if (absl::Status s = WriteBootGdt(*mem); !s.ok()) return s;
  if (absl::Status s = WriteMpTable(*mem, config.smp); !s.ok()) return s;
  if (absl::Status s = WriteAcpiTables(*mem, config.smp); !s.ok()) return s;
  // The bytes the site scan reads: a bzImage's vmlinux, or the file itself.
  std::span<const uint8_t> image =
      kernel->vmlinux.empty() ? std::span<const uint8_t>(*kernel_bytes) : kernel->vmlinux;

  absl::StatusOr<std::unique_ptr<SerialSink>> sink =
      SerialSink::Create(config.serial_to_stdout, config.serial_log);
  if (!sink.ok()) return sink.status();
  if (config.console_writer) (*sink)->SetWriter(config.console_writer);

  absl::StatusOr<KvmSystem> kvm = KvmSystem::Open(config.kvm_device);
  if (!kvm.ok()) return kvm.status();
  absl::StatusOr<Vm> vm = Vm::Create(*kvm);
  if (!vm.ok()) return vm.status();
  if (absl::Status s = vm->CreateIrqchipAndPit(); !s.ok()) return s;
  if (absl::Status s = vm->MapMemory(0, 0, *mem); !s.ok()) return s;
  absl::StatusOr<CpuidTable> cpuid = kvm->SupportedCpuid();
  if (!cpuid.ok()) return cpuid.status();

  // Devices live as long as the vCPU threads that call them.
  // COM1's IRQ 4 through the in-kernel PIC/IOAPIC. A failing KVM_IRQ_LINE
  // cannot be reported from inside a port access; the console then falls
  // back to what polling drivers see.
  Vm* vm_ptr = &*vm;
  Serial16550 serial(TLBSCOPE_COM1_PORT, sink->get(),
                     [vm_ptr](bool level) { (void)vm_ptr->SetIrqLine(4, level); });
  ExitPort exit_port;
  PostPort post_port;
  ProbeChannel probe(&*mem);
  IoBus bus;
  bus.Register(TLBSCOPE_COM1_PORT, 8, &serial);
  bus.Register(TLBSCOPE_EXIT_PORT, 4, &exit_port);
  bus.Register(TLBSCOPE_POST_PORT, 1, &post_port);
  bus.Register(TLBSCOPE_PROBE_PORT, 4, &probe);
  LinuxLegacyPorts legacy;
  if (kernel->is_linux) legacy.RegisterOn(bus);

  // vCPU 0 is the BSP at the kernel entry; the APs wait for INIT/SIPI in
  // KVM's in-kernel LAPIC, as on real hardware.
  std::vector<Vcpu> vcpus;
  vcpus.reserve(config.smp);
  for (int i = 0; i < config.smp; ++i) {
    absl::StatusOr<Vcpu> v = vm->CreateVcpu(i);
    if (!v.ok()) return v.status();
    if (absl::Status s = v->SetCpuid(CpuidForVcpu(*cpuid, i, emulated_cpl0)); !s.ok()) return s;
    vcpus.push_back(std::move(*v));
  }
  if (absl::Status s = SetupBootCpu(vcpus[0], *kernel); !s.ok()) return s;

  RunOutcome out;
  std::unique_ptr<TrapEngine> traps;
  if (config.trap) {
    absl::StatusOr<std::unique_ptr<TrapEngine>> engine =
        CreateTrapEngine(config, image, *kernel, *mem, out.traps);
    if (!engine.ok()) return engine.status();
    traps = std::move(*engine);
    for (Vcpu& v : vcpus) {
      if (absl::Status s = traps->Arm(v); !s.ok()) return s;
    }
  }

  // The event path: vCPU threads -> per-vCPU rings -> sequencer -> sinks.
  absl::StatusOr<v1::KernelIdentity> identity = IdentifyKernel(*kernel_bytes, config.kernel_path);
  if (!identity.ok()) return identity.status();
  v1::TraceHeader header = BuildHeader(config, *kernel, *identity, traps.get(), out.traps);
  TracePipeline trace(config.smp);
  std::unique_ptr<Recorder> recorder;
  if (!config.record_path.empty()) {
    absl::StatusOr<std::unique_ptr<Recorder>> r = Recorder::Create(config.record_path, header);
    if (!r.ok()) return r.status();
    recorder = std::move(*r);
    trace.AddSink(recorder.get());
  }
  for (EventSink* sink : config.extra_sinks) trace.AddSink(sink);
  std::unique_ptr<TrapLogWriter> trap_log;
  if (!config.trap_log.empty()) {
    absl::StatusOr<std::unique_ptr<TrapLogWriter>> w = TrapLogWriter::Create(config.trap_log);
    if (!w.ok()) return w.status();
    trap_log = std::move(*w);
    trace.AddSink(trap_log.get());
  }
  if (traps) {
    traps->SetEventCallback(
        [&trace](const TrapEvent& e) { trace.Append(e.vcpu, TrapEventToProto(e)); });
  }
  probe.SetTrace(&trace);
  std::unique_ptr<Retention> retention;
  std::unique_ptr<TraceServiceImpl> service;
  std::unique_ptr<RpcServer> server;
  if (!config.serve.listen.empty()) {
    absl::StatusOr<std::string> token = LoadServeSecrets(config.serve);
    if (!token.ok()) return token.status();
    retention = std::make_unique<Retention>(config.retain);
    trace.AddSink(retention.get());  // after the recorder: the file has it first
    service = std::make_unique<TraceServiceImpl>(
        header, retention.get(), &trace,
        TraceServiceOptions{*token, config.record_path, config.smp, 256});
    absl::StatusOr<std::unique_ptr<RpcServer>> s = RpcServer::Start(config.serve, service.get());
    if (!s.ok()) return s.status();
    server = std::move(*s);
    std::fprintf(stderr, "tlbscope: serving TraceService on %s\n", server->address().c_str());
  }
  trace.Start();

  StopLatch latch;
  VcpuRunner::InstallKickHandler();
  g_interrupt_signal.store(0);
  auto old_int = std::signal(SIGINT, OnInterrupt);
  auto old_term = std::signal(SIGTERM, OnInterrupt);
  if (config.wait_for_subscriber) {
    std::fprintf(stderr, "tlbscope: waiting for the first subscriber\n");
    service->WaitForSubscriber([] { return g_interrupt_signal.load() != 0; });
  }

  EmulationFixups fixups(traps.get(), &*mem, config.smp);
  std::vector<std::unique_ptr<VcpuRunner>> runners;
  for (Vcpu& v : vcpus) {
    runners.push_back(std::make_unique<VcpuRunner>(
        &v, &bus, [&latch](const VcpuStop& s) { latch.Report(s); }, &fixups, &trace));
  }
  RunnerControl control(&runners);
  if (traps) traps->SetVmControl(&control);
  auto start = std::chrono::steady_clock::now();
  for (auto& r : runners) r->Start();

  auto deadline = config.timeout_s > 0
                      ? start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(config.timeout_s))
                      : std::chrono::steady_clock::time_point::max();
  bool stopped_by_guest = latch.WaitUntil(deadline);
  auto end = std::chrono::steady_clock::now();

  if (stopped_by_guest) {
    out.first_stop = *latch.first();
  } else if (int sig = g_interrupt_signal.load(); sig != 0) {
    out.first_stop = VcpuStop{
        -1, StopRequest{StopReason::kInterrupted, 0, absl::StrFormat("stopped by signal %d", sig)}};
  } else {
    out.first_stop = VcpuStop{-1, StopRequest{StopReason::kTimeout, 0,
                                              absl::StrFormat("guest did not finish within "
                                                              "--timeout %g s",
                                                              config.timeout_s)}};
  }
  for (auto& r : runners) {
    r->Stop(StopRequest{
        StopReason::kStoppedByVmm, 0,
        absl::StrFormat("stopped because %s", StopReasonName(out.first_stop.request.reason))});
  }
  for (auto& r : runners) r->Join();
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);

  // Where each vCPU was when it stopped: what a timeout report needs.
  for (size_t i = 0; i < runners.size(); ++i) {
    VcpuStop s = runners[i]->stop().value_or(VcpuStop{static_cast<int>(i), StopRequest{}});
    if (!s.rip_known) {
      if (absl::StatusOr<kvm_regs> regs = vcpus[i].GetRegs(); regs.ok()) {
        s.rip = regs->rip;
        s.rip_known = true;
      }
    }
    out.vcpu_stops.push_back(std::move(s));
  }
  (*sink)->Flush();
  out.kernel = std::move(*kernel);
  out.report = probe.report();
  if (traps) {
    for (int i = 0; i < config.smp; ++i) {
      out.traps.trapped.push_back(traps->trapped(i));
      out.traps.trapped_after_boot.push_back(traps->trapped_after_boot(i));
      out.traps.windows.push_back(traps->step_window(i));
    }
  }
  out.serial = (*sink)->transcript();
  out.fixups = fixups.total();
  out.duration = end - start;
  out.exit_code = ExitCodeFor(out.first_stop.request.reason, out.first_stop.request.guest_code);
  // Missed traps are tlbscope's failure, not the guest's: say so in the status.
  if (out.exit_code == 0 && CountCoverageFailures(out.traps, out.report) > 0) out.exit_code = 6;
  v1::TraceEnd trace_end;
  trace_end.set_stop_reason(std::string(StopReasonName(out.first_stop.request.reason)));
  trace_end.set_stop_message(out.first_stop.Describe());
  trace_end.set_exit_code(out.exit_code);
  trace.Finish(trace_end);
  out.trace = trace.counters();
  if (service) {
    service->SetRunning(false);
    auto linger = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(config.linger_s));
    service->WaitForSubscribersDone(std::chrono::steady_clock::now() + linger);
    server->Shutdown();
  }
  if (recorder && !recorder->ok()) {
    out.output_errors.push_back(
        absl::StrFormat("--record %s: write failed; the trace is incomplete", recorder->path()));
  }
  if (trap_log && !trap_log->ok()) {
    out.output_errors.push_back(
        absl::StrFormat("--trap-log %s: write failed; the log is incomplete", config.trap_log));
  }
  if (!(*sink)->log_ok()) {
    out.output_errors.push_back(
        absl::StrFormat("--serial-log %s: write failed; the log is incomplete", config.serial_log));
  }
  return out;
}

}  // namespace tlbscope
