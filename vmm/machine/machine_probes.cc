// The Linux probes of a run: whether they can run, their plan, and what
// they did.
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "vmm/machine/machine_parts.h"
#include "vmm/trap/trap_event_proto.h"

namespace tlbscope {
namespace {

// Why the probes cannot run here, or "" when they can.
std::string Unavailable(const MachineConfig& config, const LoadedGuest& guest,
                        const TrapEngine* engine) {
  if (engine == nullptr) return "off with --no-trap (they use the trap engine)";
  if (config.breakpoints == BreakpointPolicy::kHardwareOnly) {
    return "off with --breakpoints hw (the probes are int3s)";
  }
  if (guest.kernel.protocol == BootProtocol::kLinux) {
    return "off with --boot linux (the guest decompresses its own kernel: no text to patch "
           "before it runs)";
  }
  if (!engine->plan().software_breakpoints) {
    return "off: this host cannot trap an int3 in guest kernel code";
  }
  return "";
}

}  // namespace

std::unique_ptr<LinuxProbes> CreateProbes(const MachineConfig& config, LoadedGuest& guest,
                                          TrapEngine* engine, ProbeSummary& summary) {
  if (!config.linux_probes || !guest.kernel.is_linux) return nullptr;
  summary.note = Unavailable(config, guest, engine);
  std::unique_ptr<LinuxProbes> probes;
  if (summary.note.empty()) {
    probes = CreateLinuxProbes({config.system_map, config.kernel_btf}, guest.image(), &guest.mem,
                               &engine->probe_points(), config.smp, &summary.note);
  }
  if (!probes) {
    Log("linux probes: %s; the run goes on with trapped instructions only", summary.note);
    return nullptr;
  }
  summary.enabled = true;
  summary.note = absl::StrJoin(probes->plan().problems, "; ");
  for (const PlannedProbe& p : probes->plan().probes) summary.plan.push_back(p.Describe());
  Log("linux probes: %d breakpoints (%s)", summary.plan.size(), absl::StrJoin(summary.plan, "; "));
  std::vector<std::string> loads;
  for (const PlannedLoad& l : probes->plan().loads) loads.push_back(l.Describe());
  if (!loads.empty()) {
    Log("linux probes: %d loads read at the instruction after them, so the probe sees what the "
        "kernel read (%s)",
        loads.size(), absl::StrJoin(loads, "; "));
  }
  std::vector<std::string> syncs;
  for (const PlannedSyncCore& c : probes->plan().sync_cores) syncs.push_back(c.Describe());
  if (!syncs.empty()) {
    Log("linux probes: %d sync_core sites (%s)", syncs.size(), absl::StrJoin(syncs, "; "));
  }
  if (probes->plan().no_sync_core_proven) {
    Log("linux probes: finish_task_switch has no serializing instruction: this kernel never "
        "serializes the core on an unlazy switch into a membarrier SYNC_CORE mm");
    summary.plan.push_back("sync_core none in finish_task_switch");
  }
  for (std::string& l : loads) summary.plan.push_back("load " + std::move(l));
  for (std::string& c : syncs) summary.plan.push_back("sync_core " + std::move(c));
  summary.supplies = probes->SuppliedEvents();
  Log("linux probes: events beyond switches, flushes and gathers: %s",
      summary.supplies.empty() ? "none" : absl::StrJoin(summary.supplies, ", "));
  if (!summary.note.empty()) Log("linux probes: not placed: %s", summary.note);
  if (probes->waits_for_boot()) {
    Log("linux probes: the returns placed once the kernel's boot-time text patching is done "
        "(system_state >= SYSTEM_SCHEDULING, read at each trapped instruction), each planned "
        "again from the kernel's code then");
  }
  engine->SetProbeClient(probes.get());
  return probes;
}

std::function<void(const TrapEvent&)> TrapEventPath(TracePipeline& trace, LinuxProbes* probes) {
  return [&trace, probes](const TrapEvent& e) {
    if (probes != nullptr) probes->OnTrap();
    if (probes != nullptr && e.kind == TlbInsn::kMovCr3 && !e.faulted) {
      probes->BeforeCr3Write(e.vcpu, e.old_cr3, e.new_cr3);
    }
    trace.Append(e.vcpu, TrapEventToProto(e));
  };
}

void SummarizeProbes(const LinuxProbes& probes, ProbeSummary& s) {
  LinuxProbes::Counts c = probes.counts();
  s.hits = c.hits;
  s.unmatched = c.unmatched;
  s.events = c.events;
  s.read_failures = c.read_failures;
  s.emulated = c.emulated;
  s.stepped = c.stepped;
  s.return_place_failures = c.return_place_failures;
  Log("linux probes: %d hits (%d emulated past, %d stepped, %d not the tracker's), %d events, "
      "%d guest reads failed, %d return breakpoints not placed; %d loads read (%d "
      "unreadable); %d sync_core sites reached",
      c.hits, c.emulated, c.stepped, c.unmatched, c.events, c.read_failures,
      c.return_place_failures, c.loads, c.load_failures, c.sync_cores);
  if (probes.waits_for_boot() && !probes.placed()) {
    Log("linux probes: never placed: the kernel's system_state never reached SYSTEM_SCHEDULING");
  }
  std::vector<std::string> retaken = probes.retaken();
  if (!retaken.empty()) {
    Log("linux probes: written over by the kernel's boot-time patching, placed again at the gate: "
        "%s",
        absl::StrJoin(retaken, "; "));
  }
  std::vector<std::string> late = probes.late_problems();
  if (!late.empty()) Log("linux probes: not placed after boot: %s", absl::StrJoin(late, "; "));
}

}  // namespace tlbscope
