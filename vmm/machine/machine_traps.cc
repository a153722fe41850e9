// The trap plan of a run and the trace header that records it.
#include "absl/strings/str_format.h"
#include "vmm/machine/machine_parts.h"
#include "vmm/trace/proto_text.h"
#include "vmm/trace/trace_reader.h"
#include "vmm/trap/host_caps.h"
#include "vmm/trap/site_scanner.h"

namespace tlbscope {

// Scans the kernel for TLB sites and plans their traps on this host. A
// kernel without symbols or sections to scan runs untraced, with a note.
absl::StatusOr<std::unique_ptr<TrapEngine>> CreateTrapEngine(const MachineConfig& config,
                                                             LoadedGuest& guest,
                                                             TrapSummary& summary) {
  const LoadedKernel& kernel = guest.kernel;
  absl::StatusOr<HostCaps> caps = ProbeHost(config.kvm_device);
  if (!caps.ok()) return caps.status();
  std::vector<TlbSite> sites;
  absl::StatusOr<SiteScan> scan = ScanKernelBytes(guest.image(), config.kernel_path);
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
  auto engine =
      std::make_unique<TrapEngine>(*caps, std::move(sites), &guest.mem, config.smp, policy);
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
                            const TrapSummary& summary, const ProbeSummary* probes) {
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
  // A Linux kernel's own events come from its probes; without them the
  // stream has trapped instructions only, and the collector says which
  // invariants that leaves unchecked.
  h.set_event_source(!kernel.is_linux                       ? "guest-rings"
                     : probes != nullptr && probes->enabled ? "linux"
                                                            : "linux-trapped");
  if (probes != nullptr && probes->enabled) {
    for (const std::string& p : probes->plan) h.add_linux_probes(p);
    for (const std::string& s : probes->supplies) h.add_linux_events(s);
  }
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

v1::TrapPlan TrapPlanToProto(const TrapSummary& summary) {
  v1::TrapPlan plan;
  plan.set_cr3(TrapStrategyName(summary.plan.cr3));
  plan.set_invlpg(TrapStrategyName(summary.plan.invlpg));
  plan.set_invpcid(TrapStrategyName(summary.plan.invpcid));
  for (const TlbSite& s : summary.armed) plan.add_hw_breakpoint_sites(SiteLabel(s));
  for (const TlbSite& s : summary.patched) plan.add_int3_sites(SiteLabel(s));
  for (const TlbSite& s : summary.uncovered) plan.add_uncovered_sites(SiteLabel(s));
  for (const TlbSite& s : summary.boot_patched) plan.add_boot_patched_sites(SiteLabel(s));
  return plan;
}

}  // namespace tlbscope
