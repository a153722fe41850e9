// `tlbscope run`: check the outputs, add the in-process collector and the
// status line as sinks, run the machine, report. The options are declared
// in run_options.cc, the report written in run_report.cc.
#include "vmm/cli/run_command.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "collectors/summary_json.h"
#include "collectors/terminal.h"
#include "common/log.h"
#include "common/output_file.h"
#include "common/status_line.h"
#include "vmm/cli/collect_sink.h"
#include "vmm/cli/kernel_counters.h"
#include "vmm/cli/linux_console.h"
#include "vmm/cli/run_report.h"
#include "vmm/progress/run_progress.h"
#include "vmm/trap/host_caps.h"

namespace tlbscope {
namespace {

// Bad usage: one line, exit status 2.
int UsageError(const absl::Status& s) {
  LogError("", s.message());
  return 2;
}

// Output files are checked before the guest runs: a bad path is bad input
// (the policy: common/output_file.h).
absl::Status CheckOutputs(const RunOptions& o) {
  for (auto [flag, path] :
       {std::pair{"--results", o.results_path}, std::pair{"--collect-json", o.collect_json},
        std::pair{"--collect-perfetto", o.collect_perfetto},
        std::pair{"--trap-log", o.machine.trap_log}, std::pair{"--record", o.machine.record_path},
        std::pair{"--serial-log", o.machine.serial_log}}) {
    if (path.empty()) continue;
    if (absl::Status s = CheckOutputPath(flag, path); !s.ok()) return s;
  }
  if (!o.collect && (!o.collect_json.empty() || !o.collect_perfetto.empty())) {
    return absl::InvalidArgumentError(
        "--collect-json and --collect-perfetto need the collector (drop --no-collect)");
  }
  return absl::OkStatus();
}

// The in-process collector: one more sink on the event path (null with
// --no-collect).
absl::StatusOr<std::unique_ptr<CollectSink>> MakeCollector(const RunOptions& o,
                                                           MachineConfig* machine) {
  if (!o.collect) return nullptr;
  auto collector = std::make_unique<CollectSink>();
  if (!o.collect_perfetto.empty()) {
    if (absl::Status s = collector->ExportPerfetto(
            o.collect_perfetto, *collect::ParsePerfettoFormat(o.perfetto_format));
        !s.ok()) {
      return s;
    }
  }
  // Trapping is all or nothing here (the plan covers every instruction).
  bool trapped = o.machine.trap;
  collector->SetTrapping({trapped, trapped, trapped});
  machine->extra_sinks.push_back(collector.get());
  return collector;
}

// RunMachine with a status line on a terminal (not with --quiet, not piped).
absl::StatusOr<RunOutcome> RunWithProgress(const RunOptions& o, MachineConfig machine,
                                           CollectSink* collector) {
  StatusLine status(stderr, o.machine.serial_to_stdout && StatusLine::IsTerminal(stderr));
  std::unique_ptr<RunProgress> progress;
  if (status.enabled()) {
    progress = std::make_unique<RunProgress>(&status, machine.smp);
    RunProgress* p = progress.get();
    machine.extra_sinks.push_back(p);
    machine.console_writer = [p](const std::string& line) { p->ConsoleLine(line); };
    if (collector) collector->SetPrinter([p](const std::string& line) { p->Violation(line); });
    progress->Start();
  }
  absl::StatusOr<RunOutcome> r = RunMachine(machine);
  if (progress) progress->Stop();
  return r;
}

// The collector's summary and --collect-json; 8 for a run that otherwise
// passed but lost coherence by the collector's rules.
int FinishCollector(const RunOptions& o, CollectSink& collector, int exit_code, RunOutcome* r) {
  absl::Status closed = collector.Finish();
  LogLine(absl::StripSuffix(collect::FormatSummary(collector.collector(), "tlbscope: collect: "),
                            "\n"));
  if (!closed.ok()) {
    LogError("", closed.message());
  }
  if (!o.collect_json.empty()) {
    collect::SourceInfo info{"tlbscope run", ""};
    if (absl::Status s = WriteFileAtomically("--collect-json", o.collect_json,
                                             collect::SummaryJson(collector.collector(), info));
        !s.ok()) {
      r->output_errors.push_back(std::string(s.message()));
    }
  }
  if (exit_code == 0 && collector.collector().violation_count() > 0) return 8;
  return exit_code;
}

// What tlbscope counted, for the Linux kernel's own counters.
ObservedTlbCounts Observed(const RunOutcome& r, const CollectSink* collector) {
  ObservedTlbCounts o;
  o.trapped = r.traps.enabled;
  o.online_cpus = static_cast<int>(r.vcpu_stops.size());
  for (const TlbCounts& c : r.traps.trapped) {
    o.cr3_writes += c.cr3_writes;
    o.invlpgs += c.invlpgs;
  }
  if (collector != nullptr) {
    const collect::Collector& c = collector->collector();
    o.collected = true;
    o.tally = c.kernel_tally();
    o.guest_events = c.events();
    for (collect::Kind k :
         {collect::Kind::kCr3Write, collect::Kind::kInvlpg, collect::Kind::kInvpcid,
          collect::Kind::kVcpuState, collect::Kind::kGuestLog, collect::Kind::kGuestMark}) {
      o.guest_events -= c.stats().per_kind[static_cast<int>(k)];
    }
  }
  return o;
}

// A Linux run's model against the kernel's state at each return to user
// mode (collectors/state_check.h; the collector's summary has its line):
// false on a mismatch.
bool StateMatchesGuest(const CollectSink* sink) {
  if (sink == nullptr) return true;
  return sink->collector().state_check().mismatches == 0;
}

// --require: nullopt to go on, else the exit status (77: skipped, saying
// why; 5: the host could not be asked).
std::optional<int> SkipForMissingFeatures(const RunOptions& o) {
  if (o.required_features.empty()) return std::nullopt;
  absl::StatusOr<HostCaps> caps = ProbeHost(o.machine.kvm_device);
  if (!caps.ok()) {
    LogError("", caps.status().message());
    return 5;
  }
  std::optional<std::string> missing = MissingFeature(*caps, o.required_features);
  if (!missing) return std::nullopt;
  Log("skipped: %s", *missing);
  if (!o.results_path.empty()) {
    if (absl::Status s = WriteSkippedResults(o.results_path, o, *missing); !s.ok()) {
      LogError("", s.message());
      return 5;
    }
  }
  return kExitSkipped;
}

}  // namespace

int RunCommand(const RunOptions& o) {
  if (absl::Status s = CheckOutputs(o); !s.ok()) return UsageError(s);
  if (std::optional<int> skipped = SkipForMissingFeatures(o)) return *skipped;
  MachineConfig machine = o.machine;
  absl::StatusOr<std::unique_ptr<CollectSink>> collector = MakeCollector(o, &machine);
  if (!collector.ok()) return UsageError(collector.status());
  absl::StatusOr<RunOutcome> r = RunWithProgress(o, std::move(machine), collector->get());
  if (!r.ok()) {
    LogError("", r.status().message());
    return r.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 5;
  }
  ReportOutcome(*r, o.machine.smp);
  LinuxConsoleReport linux_report = ParseLinuxConsole(r->serial);
  PrintLinuxReport(linux_report, stderr);
  int exit_code = r->exit_code;
  if (*collector) exit_code = FinishCollector(o, **collector, exit_code, &*r);
  std::vector<CounterCheck> counters =
      CompareKernelCounters(linux_report, Observed(*r, collector->get()));
  PrintCounterChecks(counters, stderr);
  if (exit_code == 0 && CountCounterMismatches(counters) > 0) exit_code = 6;
  bool state_matches = StateMatchesGuest(collector->get());
  if (exit_code == 0 && !state_matches) exit_code = 6;
  if (!o.results_path.empty()) {
    if (absl::Status s =
            WriteResults(o.results_path, o, *r, collector->get(), linux_report, counters);
        !s.ok()) {
      r->output_errors.push_back(std::string(s.message()));
    }
  }
  // The output policy: every failed output file is one line naming it, and
  // a run that otherwise passed exits 5 (the host failed).
  for (const std::string& e : r->output_errors) {
    LogError("", e);
  }
  if (!r->output_errors.empty() && exit_code == 0) exit_code = 5;
  return exit_code;
}

}  // namespace tlbscope
