#include "vmm/cli/run_command.h"

#include <google/protobuf/util/json_util.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

#include "absl/strings/str_format.h"
#include "collectors/summary_json.h"
#include "collectors/terminal.h"
#include "common/output_file.h"
#include "vmm/cli/scenario_names.h"
#include "vmm/trace/proto_text.h"
#include "tlbscope/v1/run_result.pb.h"
#include "vmm/cli/collect_sink.h"
#include "vmm/cli/linux_console.h"
#include "vmm/cli/linux_guest.h"
#include "vmm/progress/run_progress.h"
#include "common/status_line.h"
#include "vmm/machine/trap_coverage.h"

namespace tlbscope {
namespace {

template <typename T>
absl::StatusOr<T> ParseNumber(std::string_view flag, const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: '%s' is not a valid number", flag, text));
  }
  return value;
}

std::string Names(const std::vector<TlbSite>& sites) {
  std::string out;
  for (const TlbSite& s : sites) {
    if (!out.empty()) out += ", ";
    out += SiteLabel(s);
  }
  return out.empty() ? "none" : out;
}

absl::Status WriteResults(const std::string& path, const RunOptions& o, const RunOutcome& r,
                          const CollectSink* collector, const LinuxConsoleReport& linux_report) {
  tlbscope::v1::RunResult pb;
  if (collector != nullptr) *pb.mutable_collector() = collector->Verdict();
  SetTextAndBytes(
      o.machine.kernel_path, [&](std::string s) { pb.set_kernel_path(s); },
      [&](std::string b) { pb.set_kernel_path_bytes(b); });
  pb.set_boot_protocol(BootProtocolName(r.kernel.protocol));
  pb.set_smp(o.machine.smp);
  pb.set_mem_mib(o.machine.mem_mib);
  SetTextAndBytes(
      o.machine.cmdline, [&](std::string s) { pb.set_cmdline(s); },
      [&](std::string b) { pb.set_cmdline_bytes(b); });
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
  std::string json;
  google::protobuf::util::JsonPrintOptions jo;
  jo.add_whitespace = true;
  jo.always_print_primitive_fields = true;
  if (auto st = google::protobuf::util::MessageToJsonString(pb, &json, jo); !st.ok()) {
    return absl::InternalError(absl::StrFormat("--results %s: %s", path, st.ToString()));
  }
  return WriteFileAtomically("--results", path, json + "\n");
}

// Prints the trap plan, counts per vCPU, and the comparison with the
// guest's own counts and the step windows.
void ReportTraps(const RunOutcome& r) {
  const TrapSummary& t = r.traps;
  if (!t.enabled) {
    std::fprintf(stderr, "tlbscope: TLB instructions not trapped (--no-trap)\n");
    return;
  }
  std::fprintf(stderr, "tlbscope: traps: %s; hw breakpoints: %s; int3: %s; uncovered: %s%s%s\n",
               t.plan.Describe().c_str(), Names(t.armed).c_str(), Names(t.patched).c_str(),
               Names(t.uncovered).c_str(), t.note.empty() ? "" : "; ", t.note.c_str());
  for (size_t v = 0; v < t.trapped.size(); ++v) {
    const TlbCounts& c = t.trapped[v];
    std::fprintf(stderr, "tlbscope:   vcpu %zu trapped %llu mov-cr3, %llu invlpg, %llu invpcid\n",
                 v, static_cast<unsigned long long>(c.cr3_writes),
                 static_cast<unsigned long long>(c.invlpgs),
                 static_cast<unsigned long long>(c.invpcids));
  }
  int failures = 0;
  for (const CoverageRow& row : CompareTrapCoverage(t, r.report)) {
    if (row.matches()) continue;
    ++failures;
    std::fprintf(stderr,
                 "tlbscope: trap coverage mismatch on vcpu %d: the guest counted %llu/%llu/%llu "
                 "mov-cr3/invlpg/invpcid, tlbscope trapped %llu/%llu/%llu\n",
                 row.vcpu, static_cast<unsigned long long>(row.guest.cr3_writes),
                 static_cast<unsigned long long>(row.guest.invlpgs),
                 static_cast<unsigned long long>(row.guest.invpcids),
                 static_cast<unsigned long long>(row.trapped.cr3_writes),
                 static_cast<unsigned long long>(row.trapped.invlpgs),
                 static_cast<unsigned long long>(row.trapped.invpcids));
  }
  for (size_t v = 0; v < t.windows.size(); ++v) {
    if (!t.windows[v]) continue;
    const TrapEngine::StepWindowReport& w = *t.windows[v];
    bool agree = w.seen == w.trapped;
    failures += agree ? 0 : 1;
    std::fprintf(stderr,
                 "tlbscope: step window on vcpu %zu: %llu instructions stepped (%s); saw "
                 "%llu/%llu/%llu mov-cr3/invlpg/invpcid, trapped %llu/%llu/%llu: %s\n",
                 v, static_cast<unsigned long long>(w.stepped), w.ended.c_str(),
                 static_cast<unsigned long long>(w.seen.cr3_writes),
                 static_cast<unsigned long long>(w.seen.invlpgs),
                 static_cast<unsigned long long>(w.seen.invpcids),
                 static_cast<unsigned long long>(w.trapped.cr3_writes),
                 static_cast<unsigned long long>(w.trapped.invlpgs),
                 static_cast<unsigned long long>(w.trapped.invpcids), agree ? "agree" : "MISMATCH");
  }
  if (!r.report.tlb_counts.empty() && failures == 0) {
    std::fprintf(stderr,
                 "tlbscope: trap coverage: every TLB instruction the guest counted on %zu "
                 "vCPUs was trapped\n",
                 r.report.tlb_counts.size());
  }
}

}  // namespace

const char* RunUsage() {
  return "usage: tlbscope run [options]\n"
         "  --kernel PATH      kernel to boot: ELF with a PVH note, Multiboot v1, or a\n"
         "                     Linux bzImage (default: the bundled guest-probe)\n"
         "  --initrd FILE      initramfs for a Linux kernel\n"
         "  --linux            boot the test kernel (guest-linux/build-kernel.sh) with the\n"
         "                     tlbwork initramfs; --kernel/--initrd replace either one\n"
         "  --workload NAME    tlbwork workload (implies --linux): all (default), munmap,\n"
         "                     madvise, mprotect, fork, lazy, membarrier, pingpong\n"
         "  --iterations N     iterations per workload (implies --linux; default 20)\n"
         "  --boot PROTO       auto (default), pvh, multiboot or linux (a bzImage through\n"
         "                     the 32-bit boot protocol and its own decompressor)\n"
         "  --cmdline STR      kernel command line (guest-probe: scenario=NAME)\n"
         "  --scenario NAME    guest-probe scenario (adds scenario=NAME to the command line;\n"
         "                     --smp defaults to 2 then)\n"
         "  --inject-bug       run the scenario's bug variant (adds variant=bug)\n"
         "  --seed N           the scenario's interleaving and ranges (adds seed=N; default 1;\n"
         "                     with --linux tlbseed=N)\n"
         "  --smp N            vCPUs, 1..64 (default 1; 2 with --scenario)\n"
         "  --mem MiB          guest RAM, 2..3072 (default 128)\n"
         "  --timeout S        stop a guest still running after S seconds (default 300, 0 = "
         "never)\n"
         "  --serial-log FILE  also write the serial console to FILE\n"
         "  --quiet            do not copy the serial console to stdout\n"
         "  --results FILE     write the run's results as JSON (tlbscope.v1.RunResult)\n"
         "  --record FILE      record every event (length-delimited protobuf, header first)\n"
         "  --listen ADDR      serve TraceService (gRPC) on HOST:PORT, :PORT or PORT\n"
         "                     (host 127.0.0.1; port 0 picks one and prints it)\n"
         "  --tls-cert F, --tls-key F, --token-file F\n"
         "                     TLS and a bearer token; required off loopback\n"
         "  --wait-for-subscriber  start the guest when the first subscriber attaches\n"
         "  --retain N         events kept in memory for subscribers (default 1000000)\n"
         "  --linger S         after the guest stops, serve up to S s more while\n"
         "                     subscribers catch up (default 10)\n"
         "  --no-trap          do not trap the kernel's TLB instructions\n"
         "  --breakpoints P    auto (debug registers, then int3), hw (debug registers only)\n"
         "                     or sw (int3 on every site)\n"
         "  --no-linux-cpu-fixups  on kvm_pvm, do not append noxsave/clearcpuid=... to a\n"
         "                     Linux command line\n"
         "  --no-trap-entry-text  leave the PTI CR3 switches (.entry.text, or recognised by\n"
         "                     their and/or of the PTI bits) untraced\n"
         "  --trap-log FILE    write every trapped TLB instruction, one line each\n"
         "  --step-window N    single-step each vCPU's first N kernel instructions and check\n"
         "                     that every TLB instruction among them was trapped\n"
         "  --kvm-device PATH  KVM device (default /dev/kvm)\n"
         "  --no-collect       do not run the collector in-process (it prints each violation\n"
         "                     as found and the rebuilt TLB state at the end; exit status 8\n"
         "                     when it found violations in a run that otherwise passed)\n"
         "  --collect-json FILE      the collector's summary as JSON (as tlbcollect --json)\n"
         "  --collect-perfetto FILE  a trace for ui.perfetto.dev (as tlbcollect --perfetto)\n"
         "  --perfetto-format F  proto (Perfetto's native trace), json (Chrome JSON) or auto\n"
         "                     (default: json for a FILE ending in .json, else proto)\n";
}

namespace {
// --scenario, --inject-bug and --seed become guest-probe's cmdline keys.
absl::Status AddScenarioArgs(const std::string& scenario, bool inject_bug, const std::string& seed,
                             std::string* cmdline) {
  std::vector<std::string> add;
  if (!scenario.empty()) add.push_back("scenario=" + scenario);
  if (inject_bug) {
    if (scenario.empty()) return absl::InvalidArgumentError("--inject-bug needs --scenario NAME");
    add.push_back("variant=bug");
  }
  if (!seed.empty()) add.push_back("seed=" + seed);
  for (const std::string& kv : add) {
    std::string key = kv.substr(0, kv.find('=') + 1);
    if (cmdline->find(key) != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--cmdline already sets %s; give it there or with the option, not both", key));
    }
    if (!cmdline->empty()) *cmdline += ' ';
    *cmdline += kv;
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<RunOptions> ParseRunArgs(const std::vector<std::string>& args,
                                        const std::string& default_kernel) {
  RunOptions o;
  o.machine.kernel_path = default_kernel;
  std::string scenario, seed;
  bool inject_bug = false, smp_given = false;
  LinuxRunArgs linux_args;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_inline = false;
    if (size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_inline = true;
    }
    auto take = [&]() -> absl::StatusOr<std::string> {
      if (has_inline) return value;
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrFormat("%s needs a value", flag));
      }
      return args[++i];
    };
    if (flag == "-h" || flag == "--help") {
      o.help = true;
      continue;
    }
    if (flag == "--quiet") {
      o.machine.serial_to_stdout = false;
      continue;
    }
    if (flag == "--wait-for-subscriber") {
      o.machine.wait_for_subscriber = true;
      continue;
    }
    if (flag == "--no-trap") {
      o.machine.trap = false;
      continue;
    }
    if (flag == "--inject-bug") {
      inject_bug = true;
      continue;
    }
    if (flag == "--no-collect") {
      o.collect = false;
      continue;
    }
    if (flag == "--no-linux-cpu-fixups") {
      o.machine.linux_cpu_fixups = false;
      continue;
    }
    if (flag == "--linux") {
      linux_args.enabled = true;
      continue;
    }
    if (flag == "--no-trap-entry-text") {
      o.machine.trap_entry_text = false;
      continue;
    }
    if (flag == "--perfetto-format") {
      absl::StatusOr<std::string> v = take();
      if (!v.ok()) return v.status();
      if (absl::Status s = collect::ParsePerfettoFormat(*v).status(); !s.ok()) return s;
      o.perfetto_format = *v;
      continue;
    }
    static const std::set<std::string> kValueFlags = {"--kernel",
                                                      "--boot",
                                                      "--cmdline",
                                                      "--smp",
                                                      "--mem",
                                                      "--timeout",
                                                      "--serial-log",
                                                      "--results",
                                                      "--kvm-device",
                                                      "--trap-log",
                                                      "--breakpoints",
                                                      "--step-window",
                                                      "--record",
                                                      "--listen",
                                                      "--tls-cert",
                                                      "--tls-key",
                                                      "--token-file",
                                                      "--collect-json",
                                                      "--collect-perfetto",
                                                      "--retain",
                                                      "--linger",
                                                      "--scenario",
                                                      "--seed",
                                                      "--initrd",
                                                      "--workload",
                                                      "--iterations"};
    if (!kValueFlags.contains(flag)) {
      return absl::InvalidArgumentError(absl::StrFormat("unknown option '%s'", args[i]));
    }
    absl::StatusOr<std::string> v = take();
    if (!v.ok()) return v.status();
    if (flag == "--kernel") {
      o.machine.kernel_path = *v;
      linux_args.kernel_given = true;
    } else if (flag == "--initrd") {
      o.machine.initrd_path = *v;
      linux_args.initrd_given = true;
    } else if (flag == "--workload") {
      linux_args.workload = *v;
      linux_args.enabled = true;
    } else if (flag == "--iterations") {
      linux_args.iterations = *v;
      linux_args.enabled = true;
    } else if (flag == "--boot") {
      absl::StatusOr<BootProtocol> p = ParseBootProtocol(*v);
      if (!p.ok()) return p.status();
      o.machine.boot = *p;
    } else if (flag == "--cmdline") {
      o.machine.cmdline = *v;
    } else if (flag == "--scenario") {
      if (v->empty() ||
          v->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrFormat("--scenario '%s': a name is lowercase letters, digits and '-'", *v));
      }
      scenario = *v;
    } else if (flag == "--seed") {
      absl::StatusOr<uint64_t> n = ParseNumber<uint64_t>(flag, *v);
      if (!n.ok()) return n.status();
      seed = *v;
    } else if (flag == "--smp") {
      absl::StatusOr<int> n = ParseNumber<int>(flag, *v);
      if (!n.ok()) return n.status();
      o.machine.smp = *n;
      smp_given = true;
    } else if (flag == "--mem") {
      absl::StatusOr<uint64_t> n = ParseNumber<uint64_t>(flag, *v);
      if (!n.ok()) return n.status();
      o.machine.mem_mib = *n;
    } else if (flag == "--timeout") {
      absl::StatusOr<double> n = ParseNumber<double>(flag, *v);
      if (!n.ok()) return n.status();
      o.machine.timeout_s = *n;
    } else if (flag == "--serial-log") {
      o.machine.serial_log = *v;
    } else if (flag == "--results") {
      o.results_path = *v;
    } else if (flag == "--collect-json") {
      o.collect_json = *v;
    } else if (flag == "--collect-perfetto") {
      o.collect_perfetto = *v;
    } else if (flag == "--kvm-device") {
      o.machine.kvm_device = *v;
    } else if (flag == "--trap-log") {
      o.machine.trap_log = *v;
    } else if (flag == "--record") {
      o.machine.record_path = *v;
    } else if (flag == "--listen") {
      o.machine.serve.listen = *v;
    } else if (flag == "--tls-cert") {
      o.machine.serve.tls_cert = *v;
    } else if (flag == "--tls-key") {
      o.machine.serve.tls_key = *v;
    } else if (flag == "--token-file") {
      o.machine.serve.token_file = *v;
    } else if (flag == "--retain") {
      absl::StatusOr<uint64_t> n = ParseNumber<uint64_t>(flag, *v);
      if (!n.ok()) return n.status();
      o.machine.retain = *n;
    } else if (flag == "--linger") {
      absl::StatusOr<double> n = ParseNumber<double>(flag, *v);
      if (!n.ok()) return n.status();
      o.machine.linger_s = *n;
    } else if (flag == "--step-window") {
      absl::StatusOr<uint64_t> n = ParseNumber<uint64_t>(flag, *v);
      if (!n.ok()) return n.status();
      o.machine.step_window = *n;
    } else if (flag == "--breakpoints") {
      if (*v == "auto") {
        o.machine.breakpoints = BreakpointPolicy::kAuto;
      } else if (*v == "hw") {
        o.machine.breakpoints = BreakpointPolicy::kHardwareOnly;
      } else if (*v == "sw") {
        o.machine.breakpoints = BreakpointPolicy::kSoftwareOnly;
      } else {
        return absl::InvalidArgumentError(
            absl::StrFormat("--breakpoints must be auto, hw or sw (got '%s')", *v));
      }
    }
  }
  if (linux_args.enabled) {
    if (!scenario.empty() || inject_bug) {
      return absl::InvalidArgumentError(
          "--linux runs the tlbwork workloads; --scenario/--inject-bug are guest-probe's");
    }
    linux_args.seed = std::exchange(seed, "");
    linux_args.smp_given = smp_given;
    if (!o.help) {
      if (absl::Status s = ApplyLinuxRun(linux_args, &o.machine); !s.ok()) return s;
    }
  }
  if (!scenario.empty()) {
    if (absl::Status s = CheckScenario(scenario, inject_bug); !s.ok()) return s;
  }
  if (absl::Status s = AddScenarioArgs(scenario, inject_bug, seed, &o.machine.cmdline); !s.ok()) {
    return s;
  }
  // The mm scenarios need two CPUs: --scenario without --smp gets 2.
  if (!scenario.empty() && !smp_given) o.machine.smp = 2;
  if (!o.help) {
    if (absl::Status s = ValidateConfig(o.machine); !s.ok()) return s;
  }
  return o;
}

// Output files are checked before the guest runs: a bad path is bad input
// (the policy: common/output_file.h).
absl::Status CheckWritable(const char* flag, const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  return CheckOutputPath(flag, path);
}

int RunCommand(const RunOptions& o) {
  for (auto [flag, path] :
       {std::pair{"--results", o.results_path}, std::pair{"--collect-json", o.collect_json},
        std::pair{"--collect-perfetto", o.collect_perfetto},
        std::pair{"--trap-log", o.machine.trap_log}, std::pair{"--record", o.machine.record_path},
        std::pair{"--serial-log", o.machine.serial_log}}) {
    if (absl::Status s = CheckWritable(flag, path); !s.ok()) {
      std::fprintf(stderr, "tlbscope: error: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  if (!o.collect && (!o.collect_json.empty() || !o.collect_perfetto.empty())) {
    std::fprintf(stderr,
                 "tlbscope: error: --collect-json and --collect-perfetto need the collector "
                 "(drop --no-collect)\n");
    return 2;
  }
  // The in-process collector: one more sink on the event path.
  MachineConfig machine = o.machine;
  std::unique_ptr<CollectSink> collector;
  if (o.collect) {
    collector = std::make_unique<CollectSink>();
    if (!o.collect_perfetto.empty()) {
      if (absl::Status s = collector->ExportPerfetto(
              o.collect_perfetto, *collect::ParsePerfettoFormat(o.perfetto_format));
          !s.ok()) {
        std::fprintf(stderr, "tlbscope: error: %s\n", std::string(s.message()).c_str());
        return 2;
      }
    }
    // Trapping is all or nothing here (the plan covers every instruction).
    bool trapped = o.machine.trap;
    collector->SetTrapping({trapped, trapped, trapped});
    machine.extra_sinks.push_back(collector.get());
  }
  // A status line on a terminal (not with --quiet, not piped).
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
  if (!r.ok()) {
    std::fprintf(stderr, "tlbscope: error: %s\n", std::string(r.status().message()).c_str());
    return r.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 5;
  }
  const StopRequest& why = r->first_stop.request;
  double secs = std::chrono::duration<double>(r->duration).count();
  if (why.reason == StopReason::kGuestExit) {
    std::fprintf(stderr, "tlbscope: guest exited with code %d after %.2f s (%s boot, %d vCPUs)\n",
                 why.guest_code, secs, BootProtocolName(r->kernel.protocol), o.machine.smp);
  } else {
    std::fprintf(stderr, "tlbscope: %s\n", r->first_stop.Describe().c_str());
    if (why.reason == StopReason::kTimeout || why.reason == StopReason::kInterrupted) {
      for (const VcpuStop& s : r->vcpu_stops) {
        std::fprintf(stderr, "tlbscope:   vcpu %d was at rip %#llx\n", s.vcpu,
                     static_cast<unsigned long long>(s.rip));
      }
    }
  }
  ReportTraps(*r);
  if (const FixupCounts& f = r->fixups;
      f.breakpoints + f.invalid_opcodes + f.cmpxchg16b + f.popcnt + f.other > 0) {
    std::fprintf(stderr,
                 "tlbscope: emulation failures handled: %llu int3 (#BP injected), %llu "
                 "cmpxchg16b, %llu popcnt, %llu clac/stac/fsgsbase/fwait/mxcsr (emulated), %llu "
                 "xsave-family (#UD injected)\n",
                 static_cast<unsigned long long>(f.breakpoints),
                 static_cast<unsigned long long>(f.cmpxchg16b),
                 static_cast<unsigned long long>(f.popcnt),
                 static_cast<unsigned long long>(f.other),
                 static_cast<unsigned long long>(f.invalid_opcodes));
  }
  if (!r->report.checks.empty()) {
    std::fprintf(stderr, "tlbscope: guest checks: %d passed, %d failed\n", r->report.passed(),
                 r->report.failed());
  }
  LinuxConsoleReport linux_report = ParseLinuxConsole(r->serial);
  PrintLinuxReport(linux_report, stderr);
  int exit_code = r->exit_code;
  if (collector) {
    absl::Status closed = collector->Finish();
    std::fputs(collect::FormatSummary(collector->collector(), "tlbscope: collect: ").c_str(),
               stderr);
    if (!closed.ok()) {
      std::fprintf(stderr, "tlbscope: error: %s\n", std::string(closed.message()).c_str());
    }
    if (!o.collect_json.empty()) {
      collect::SourceInfo info{"tlbscope run", ""};
      if (absl::Status s = WriteFileAtomically("--collect-json", o.collect_json,
                                               collect::SummaryJson(collector->collector(), info));
          !s.ok()) {
        r->output_errors.push_back(std::string(s.message()));
      }
    }
    // A run that otherwise passed but lost coherence by the collector's rules.
    if (exit_code == 0 && collector->collector().violation_count() > 0) exit_code = 8;
  }
  if (!o.results_path.empty()) {
    if (absl::Status s = WriteResults(o.results_path, o, *r, collector.get(), linux_report);
        !s.ok()) {
      r->output_errors.push_back(std::string(s.message()));
    }
  }
  // The output policy: every failed output file is one line naming it, and
  // a run that otherwise passed exits 5 (the host failed).
  for (const std::string& e : r->output_errors) {
    std::fprintf(stderr, "tlbscope: error: %s\n", e.c_str());
  }
  if (!r->output_errors.empty() && exit_code == 0) exit_code = 5;
  return exit_code;
}

}  // namespace tlbscope
