#include "vmm/cli/run_report.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/output_file.h"
#include "tlbscope/v1/run_result.pb.h"
#include "vmm/machine/trap_coverage.h"
#include "vmm/trace/proto_text.h"

namespace tlbscope {
namespace {

std::string Names(const std::vector<TlbSite>& sites) {
  std::string out;
  for (const TlbSite& s : sites) {
    if (!out.empty()) out += ", ";
    out += SiteLabel(s);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

// What was asked: the kernel, vCPUs, memory, command line.
void SetRunIdentity(const RunOptions& o, tlbscope::v1::RunResult* pb) {
  SetTextAndBytes(
      o.machine.kernel_path, [&](std::string s) { pb->set_kernel_path(s); },
      [&](std::string b) { pb->set_kernel_path_bytes(b); });
  pb->set_smp(o.machine.smp);
  pb->set_mem_mib(o.machine.mem_mib);
  SetTextAndBytes(
      o.machine.cmdline, [&](std::string s) { pb->set_cmdline(s); },
      [&](std::string b) { pb->set_cmdline_bytes(b); });
}

absl::Status WriteResultsJson(const std::string& path, const tlbscope::v1::RunResult& pb) {
  std::string json;
  google::protobuf::util::JsonPrintOptions jo;
  jo.add_whitespace = true;
  jo.always_print_primitive_fields = true;
  if (auto st = google::protobuf::util::MessageToJsonString(pb, &json, jo); !st.ok()) {
    return absl::InternalError(absl::StrFormat("--results %s: %s", path, st.ToString()));
  }
  return WriteFileAtomically("--results", path, json + "\n");
}

absl::Status WriteResults(const std::string& path, const RunOptions& o, const RunOutcome& r,
                          const CollectSink* collector, const LinuxConsoleReport& linux_report,
                          const std::vector<CounterCheck>& counter_checks) {
  tlbscope::v1::RunResult pb;
  if (collector != nullptr) *pb.mutable_collector() = collector->Verdict();
  SetRunIdentity(o, &pb);
  pb.set_boot_protocol(BootProtocolName(r.kernel.protocol));
  pb.set_stop_reason(std::string(StopReasonName(r.first_stop.request.reason)));
  pb.set_stop_message(r.first_stop.Describe());
  pb.set_exit_code(r.exit_code);  // before the collector's verdict (status 8)
  pb.set_duration_ns(r.duration.count());
  pb.set_guest_name(r.report.guest_name);
  for (int cpu : r.report.cpus_online) pb.add_cpus_online(cpu);
  for (const GuestCheck& c : r.report.checks) {
    auto* pc = pb.add_checks();
    pc->set_cpu(c.cpu);
    pc->set_name(c.name);
    pc->set_passed(c.passed);
    pc->set_detail(c.detail);
  }
  pb.set_checks_passed(r.report.passed());
  pb.set_checks_failed(r.report.failed());
  AddLinuxReport(linux_report, &pb);
  AddCounterChecks(counter_checks, &pb);
  for (const VcpuStop& s : r.vcpu_stops) {
    auto* v = pb.add_vcpus();
    v->set_vcpu(s.vcpu);
    v->set_reason(std::string(StopReasonName(s.request.reason)));
    v->set_message(s.request.message);
    v->set_rip(s.rip);
  }
  const TrapSummary& t = r.traps;
  pb.set_traps_enabled(t.enabled);
  pb.set_traps_note(t.note);
  if (t.enabled) *pb.mutable_traps() = TrapPlanToProto(t);
  std::vector<CoverageRow> rows = CompareTrapCoverage(t, r.report);
  for (size_t v = 0; v < t.trapped.size(); ++v) {
    const TlbCounts& c = t.trapped[v];
    auto* tc = pb.add_trapped();
    tc->set_vcpu(v);
    tc->set_cr3_writes(c.cr3_writes);
    tc->set_invlpgs(c.invlpgs);
    tc->set_invpcids(c.invpcids);
    for (const CoverageRow& row : rows) {
      if (row.vcpu != static_cast<int>(v)) continue;
      tc->set_guest_counted(true);
      tc->set_matches_guest(row.matches());
    }
  }
  return WriteResultsJson(path, pb);
}

absl::Status WriteSkippedResults(const std::string& path, const RunOptions& o,
                                 const std::string& why) {
  tlbscope::v1::RunResult pb;
  SetRunIdentity(o, &pb);
  pb.set_stop_reason(kStopHostLacksFeature);
  pb.set_stop_message(why);
  pb.set_exit_code(kExitSkipped);
  return WriteResultsJson(path, pb);
}

void ReportTraps(const RunOutcome& r) {
  const TrapSummary& t = r.traps;
  if (!t.enabled) {
    Log("TLB instructions not trapped (--no-trap)");
    return;
  }
  Log("traps: %s; hw breakpoints: %s; int3: %s; uncovered: %s%s%s", t.plan.Describe(),
      Names(t.armed), Names(t.patched), Names(t.uncovered), t.note.empty() ? "" : "; ", t.note);
  for (size_t v = 0; v < t.trapped.size(); ++v) {
    const TlbCounts& c = t.trapped[v];
    Log("  vcpu %zu trapped %llu mov-cr3, %llu invlpg, %llu invpcid", v, c.cr3_writes, c.invlpgs,
        c.invpcids);
  }
  int failures = 0;
  for (const CoverageRow& row : CompareTrapCoverage(t, r.report)) {
    if (row.matches()) continue;
    ++failures;
    Log("trap coverage mismatch on vcpu %d: the guest counted %llu/%llu/%llu "
        "mov-cr3/invlpg/invpcid, tlbscope trapped %llu/%llu/%llu",
        row.vcpu, row.guest.cr3_writes, row.guest.invlpgs, row.guest.invpcids,
        row.trapped.cr3_writes, row.trapped.invlpgs, row.trapped.invpcids);
  }
  for (size_t v = 0; v < t.windows.size(); ++v) {
    if (!t.windows[v]) continue;
    const TrapEngine::StepWindowReport& w = *t.windows[v];
    bool agree = w.seen == w.trapped;
    failures += agree ? 0 : 1;
    Log("step window on vcpu %zu: %llu instructions stepped (%s); saw %llu/%llu/%llu "
        "mov-cr3/invlpg/invpcid, trapped %llu/%llu/%llu: %s",
        v, w.stepped, w.ended, w.seen.cr3_writes, w.seen.invlpgs, w.seen.invpcids,
        w.trapped.cr3_writes, w.trapped.invlpgs, w.trapped.invpcids, agree ? "agree" : "MISMATCH");
  }
  if (!r.report.tlb_counts.empty() && failures == 0) {
    Log("trap coverage: every TLB instruction the guest counted on %zu vCPUs was trapped",
        r.report.tlb_counts.size());
  }
}

void ReportOutcome(const RunOutcome& r, int smp) {
  const StopRequest& why = r.first_stop.request;
  double secs = std::chrono::duration<double>(r.duration).count();
  if (why.reason == StopReason::kGuestExit) {
    Log("guest exited with code %d after %.2f s (%s boot, %d vCPUs)", why.guest_code, secs,
        BootProtocolName(r.kernel.protocol), smp);
  } else {
    Log("%s", r.first_stop.Describe());
    if (why.reason == StopReason::kTimeout || why.reason == StopReason::kInterrupted) {
      for (const VcpuStop& s : r.vcpu_stops) {
        Log("  vcpu %d was at rip %#llx", s.vcpu, s.rip);
      }
    }
  }
  ReportTraps(r);
  if (const FixupCounts& f = r.fixups;
      f.breakpoints + f.invalid_opcodes + f.cmpxchg16b + f.popcnt + f.other > 0) {
    Log("emulation failures handled: %llu int3 (#BP: %llu delivered by tlbscope, %llu injected), "
        "%llu cmpxchg16b, %llu popcnt, %llu clac/stac/fsgsbase/fwait/mxcsr (emulated), %llu "
        "xsave-family (#UD injected)",
        f.breakpoints, f.breakpoints_delivered, f.breakpoints - f.breakpoints_delivered,
        f.cmpxchg16b, f.popcnt, f.other, f.invalid_opcodes);
  }
  if (!r.report.checks.empty()) {
    Log("guest checks: %d passed, %d failed", r.report.passed(), r.report.failed());
  }
}

}  // namespace tlbscope
