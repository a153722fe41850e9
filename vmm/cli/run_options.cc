// `tlbscope run`'s options: one CLI11 declaration each (common/cli.h) gives
// the parsing, the check and the line of help.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "collectors/perfetto_export.h"
#include "common/cli.h"
#include "common/cpu_features.h"
#include "common/scenario_names.h"
#include "vmm/cli/linux_guest.h"
#include "vmm/cli/requirements.h"
#include "vmm/cli/run_command.h"

namespace tlbscope {
namespace {

// What the options say that is not a MachineConfig field yet.
struct RunArgs {
  std::string scenario, seed;
  bool inject_bug = false;
  LinuxRunArgs linux_args;
};

// Turns a CLI11 option callback's failure into its one-line error.
void Check(const absl::Status& s) {
  if (!s.ok()) throw CLI::ValidationError(std::string(s.message()));
}

void AddGuestOptions(CLI::App& app, RunOptions* o, RunArgs* a) {
  MachineConfig* m = &o->machine;
  app.add_option_function<std::string>(
         "--kernel",
         [m, a](const std::string& v) {
           m->kernel_path = v;
           a->linux_args.kernel_given = true;
         },
         "kernel to boot: ELF with a PVH note, Multiboot v1, or a Linux bzImage "
         "(default: the bundled guest-probe)")
      ->type_name("PATH");
  app.add_option_function<std::string>(
         "--initrd",
         [m, a](const std::string& v) {
           m->initrd_path = v;
           a->linux_args.initrd_given = true;
         },
         "initramfs for a Linux kernel")
      ->type_name("FILE");
  app.add_flag_callback(
      "--linux", [a] { a->linux_args.enabled = true; },
      "boot the test kernel (guest-linux/build-kernel.sh) with the tlbwork initramfs; "
      "--kernel/--initrd replace either one");
  app.add_option_function<std::string>(
         "--workload",
         [a](const std::string& v) {
           a->linux_args.workload = v;
           a->linux_args.enabled = true;
         },
         "tlbwork workload (implies --linux): all (default), munmap, madvise, mprotect, fork, "
         "lazy, membarrier, pingpong, lazyfree, unlazy, spinfree, lamlazy")
      ->type_name("NAME");
  app.add_option_function<std::string>(
         "--linux-variant",
         [a](const std::string& v) {
           a->linux_args.variant = v;
           a->linux_args.enabled = true;
         },
         "boot a seed-bug variant of the test kernel (implies --linux): seed-000-lazy-free, ... "
         "(guest-linux/patches/variants; TLBSCOPE_LINUX_VARIANT=NAME build-kernel.sh builds it)")
      ->type_name("NAME");
  app.add_option_function<std::string>(
         "--iterations",
         [a](const std::string& v) {
           a->linux_args.iterations = v;
           a->linux_args.enabled = true;
         },
         "iterations per workload (implies --linux; default 20)")
      ->type_name("N");
  app.add_option_function<std::string>(
         "--boot",
         [m](const std::string& v) {
           absl::StatusOr<BootProtocol> p = ParseBootProtocol(v);
           Check(p.status());
           m->boot = *p;
         },
         "auto (default), pvh, multiboot or linux (a bzImage through the 32-bit boot protocol "
         "and its own decompressor)")
      ->type_name("PROTO");
  app.add_option("--cmdline", m->cmdline, "kernel command line (guest-probe: scenario=NAME)")
      ->type_name("STR");
}

void AddScenarioOptions(CLI::App& app, RunOptions* o, RunArgs* a) {
  app.add_option_function<std::string>(
         "--scenario",
         [a](const std::string& v) {
           if (v.empty() ||
               v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
             Check(absl::InvalidArgumentError(absl::StrFormat(
                 "--scenario '%s': a name is lowercase letters, digits and '-'", v)));
           }
           a->scenario = v;
         },
         "guest-probe scenario (adds scenario=NAME to the command line; --smp defaults to 2 then)")
      ->type_name("NAME");
  app.add_flag("--inject-bug", a->inject_bug, "run the scenario's bug variant (adds variant=bug)");
  app.add_option_function<std::string>(
         "--seed",
         [a](const std::string& v) {
           absl::StatusOr<uint64_t> n = cli::ParseNumber<uint64_t>(v);
           if (!n.ok()) throw CLI::ValidationError("--seed", std::string(n.status().message()));
           a->seed = v;
         },
         "the scenario's interleaving and ranges (adds seed=N; default 1; with --linux tlbseed=N)")
      ->type_name("N");
  MachineConfig* m = &o->machine;
  cli::AddNumber(app, "--smp", &m->smp, "vCPUs, 1..64 (default 1; 2 with --scenario)");
  cli::AddNumber(app, "--mem", &m->mem_mib, "guest RAM, 2..3072 (default 128)", "MiB");
  cli::AddNumber(app, "--timeout", &m->timeout_s,
                 "stop a guest still running after S seconds (default 300, 0 = never)", "S");
}

void AddOutputOptions(CLI::App& app, RunOptions* o) {
  MachineConfig* m = &o->machine;
  app.add_option("--serial-log", m->serial_log, "also write the serial console to FILE")
      ->type_name("FILE");
  app.add_flag_callback(
      "--quiet", [m] { m->serial_to_stdout = false; }, "do not copy the serial console to stdout");
  app.add_option("--results", o->results_path,
                 "write the run's results as JSON (tlbscope.v1.RunResult)")
      ->type_name("FILE");
  app.add_option("--record", m->record_path,
                 "record every event (length-delimited protobuf, header first)")
      ->type_name("FILE");
  app.add_option("--listen", m->serve.listen,
                 "serve TraceService (gRPC) on HOST:PORT, :PORT or PORT (host 127.0.0.1; port 0 "
                 "picks one and prints it)")
      ->type_name("ADDR");
  app.add_option("--tls-cert", m->serve.tls_cert, "TLS certificate; required off loopback")
      ->type_name("F");
  app.add_option("--tls-key", m->serve.tls_key, "TLS key; required off loopback")->type_name("F");
  app.add_option("--token-file", m->serve.token_file, "bearer token; required off loopback")
      ->type_name("F");
  app.add_flag_callback(
      "--wait-for-subscriber", [m] { m->wait_for_subscriber = true; },
      "start the guest when the first subscriber attaches");
  cli::AddNumber(app, "--retain", &m->retain,
                 "events kept in memory for subscribers (default 1000000)");
  cli::AddNumber(app, "--linger", &m->linger_s,
                 "after the guest stops, serve up to S s more while subscribers catch up "
                 "(default 10)",
                 "S");
}

void AddTrapOptions(CLI::App& app, RunOptions* o) {
  MachineConfig* m = &o->machine;
  app.add_flag_callback(
      "--no-trap", [m] { m->trap = false; }, "do not trap the kernel's TLB instructions");
  app.add_option_function<std::string>(
         "--breakpoints",
         [m](const std::string& v) {
           static const std::pair<const char*, BreakpointPolicy> kPolicies[] = {
               {"auto", BreakpointPolicy::kAuto},
               {"hw", BreakpointPolicy::kHardwareOnly},
               {"sw", BreakpointPolicy::kSoftwareOnly}};
           for (const auto& [name, policy] : kPolicies) {
             if (v == name) return void(m->breakpoints = policy);
           }
           Check(absl::InvalidArgumentError(
               absl::StrFormat("--breakpoints must be auto, hw or sw (got '%s')", v)));
         },
         "auto (debug registers, then int3), hw (debug registers only) or sw (int3 on every "
         "site)")
      ->type_name("P");
  app.add_flag_callback(
      "--no-linux-cpu-fixups", [m] { m->linux_cpu_fixups = false; },
      "on kvm_pvm, do not append noxsave/clearcpuid=... to a Linux command line");
  app.add_flag_callback(
      "--no-trap-entry-text", [m] { m->trap_entry_text = false; },
      "leave the PTI CR3 switches (.entry.text, or recognised by their and/or of the PTI bits) "
      "untraced");
  app.add_flag_callback(
      "--no-linux-probes", [m] { m->linux_probes = false; },
      "do not place the Linux probes (context switches, flushes, tlb_gen from the kernel's own "
      "state; on by default for a Linux kernel whose symbols and layouts are known)");
  app.add_option("--system-map", m->system_map, "the Linux kernel's System.map (for the probes)")
      ->type_name("FILE");
  app.add_option("--kernel-btf", m->kernel_btf,
                 "the Linux kernel's BTF as a detached file (for the probes)")
      ->type_name("FILE");
  app.add_option("--hold", m->holds,
                 "hold vCPU A at a site until vCPU B reaches another: "
                 "A:SITE,release=B:SITE[,timeout=5s][,count=1] with SITE = SYMBOL[+OFF][%return] "
                 "or 0xADDR (docs/hold.md); may be given more than once")
      ->type_name("SPEC")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--trap-log", m->trap_log, "write every trapped TLB instruction, one line each")
      ->type_name("FILE");
  cli::AddNumber(app, "--step-window", &m->step_window,
                 "single-step each vCPU's first N kernel instructions and check that every TLB "
                 "instruction among them was trapped");
  app.add_option("--kvm-device", m->kvm_device, "KVM device (default /dev/kvm)")->type_name("PATH");
  app.add_option("--require", o->required_features,
                 "a CPU feature the guest needs (lam, la57, pcid, invpcid, pge): on a host whose "
                 "KVM does not offer it the run is skipped before it boots, saying so, with exit "
                 "status 77; may be given more than once (--workload lamlazy implies lam)")
      ->type_name("FEATURE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void AddCollectOptions(CLI::App& app, RunOptions* o) {
  app.add_flag_callback(
      "--no-collect", [o] { o->collect = false; },
      "do not run the collector in-process (it prints each violation as found and the rebuilt "
      "TLB state at the end; exit status 8 when it found violations in a run that otherwise "
      "passed)");
  app.add_option("--collect-json", o->collect_json,
                 "the collector's summary as JSON (as tlbcollect --json)")
      ->type_name("FILE");
  app.add_option("--collect-perfetto", o->collect_perfetto,
                 "a trace for ui.perfetto.dev (as tlbcollect --perfetto)")
      ->type_name("FILE");
  app.add_option_function<std::string>(
         "--perfetto-format",
         [o](const std::string& v) {
           Check(collect::ParsePerfettoFormat(v).status());
           o->perfetto_format = v;
         },
         "proto (Perfetto's native trace), json (Chrome JSON) or auto (default: json for a "
         "FILE ending in .json, else proto)")
      ->type_name("F");
}

// Every option of `tlbscope run`, writing into *o and *a.
void Declare(CLI::App& app, RunOptions* o, RunArgs* a) {
  cli::Configure(app);
  app.add_flag("-h,--help", o->help, "this text");
  AddGuestOptions(app, o, a);
  AddScenarioOptions(app, o, a);
  AddOutputOptions(app, o);
  AddTrapOptions(app, o);
  AddCollectOptions(app, o);
}

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

// What the options imply for each other: --linux's kernel, the scenario's
// command line and vCPUs, then the machine's own checks (ranges).
absl::Status Resolve(RunArgs& a, bool smp_given, RunOptions* o) {
  for (const std::string& f : WorkloadFeatures(a.linux_args.workload)) {
    auto& req = o->required_features;
    if (std::find(req.begin(), req.end(), f) == req.end()) req.push_back(f);
  }
  if (absl::Status s = CheckCpuFeatureNames(o->required_features); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--require ", s.message()));
  }
  if (a.linux_args.enabled) {
    if (!a.scenario.empty() || a.inject_bug) {
      return absl::InvalidArgumentError(
          "--linux runs the tlbwork workloads; --scenario/--inject-bug are guest-probe's");
    }
    a.linux_args.seed = std::exchange(a.seed, "");
    a.linux_args.smp_given = smp_given;
    if (!o->help) {
      if (absl::Status s = ApplyLinuxRun(a.linux_args, &o->machine); !s.ok()) return s;
    }
  }
  if (!a.scenario.empty()) {
    if (absl::Status s = CheckScenarioName(a.scenario); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--scenario ", s.message()));
    }
    if (absl::Status s = CheckBugVariant(a.scenario); a.inject_bug && !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--inject-bug: ", s.message()));
    }
  }
  if (absl::Status s = AddScenarioArgs(a.scenario, a.inject_bug, a.seed, &o->machine.cmdline);
      !s.ok()) {
    return s;
  }
  // The mm scenarios need two CPUs: --scenario without --smp gets 2.
  if (!a.scenario.empty() && !smp_given) o->machine.smp = 2;
  if (o->help) return absl::OkStatus();
  return ValidateConfig(o->machine);
}

}  // namespace

absl::StatusOr<RunOptions> ParseRunArgs(const std::vector<std::string>& args,
                                        const std::string& default_kernel) {
  RunOptions o;
  o.machine.kernel_path = default_kernel;
  RunArgs a;
  CLI::App app("", "tlbscope run");
  Declare(app, &o, &a);
  if (absl::Status s = cli::ParseArgs(app, args); !s.ok()) return s;
  if (absl::Status s = Resolve(a, app.count("--smp") > 0, &o); !s.ok()) return s;
  return o;
}

const char* RunUsage() {
  static const std::string text = [] {
    RunOptions o;
    RunArgs a;
    CLI::App app("", "tlbscope run");
    Declare(app, &o, &a);
    return cli::Help(app);
  }();
  return text.c_str();
}

}  // namespace tlbscope
