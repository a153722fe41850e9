#include "collectors/tlbcollect_cli.h"

#include <chrono>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "collectors/collector.h"
#include "collectors/dump_command.h"
#include "collectors/live_source.h"
#include "collectors/perfetto_export.h"
#include "collectors/replay_source.h"
#include "collectors/summary_json.h"
#include "collectors/terminal.h"
#include "common/cli.h"
#include "common/output_file.h"
#include "version/version.h"

namespace tlbscope::collect {
namespace {

constexpr const char* kPrefix = "tlbcollect: ";

struct Options {
  std::string command;  // replay, live, invariants
  std::string target;   // FILE or ADDR
  std::string json, perfetto, token_file, tls_ca;
  PerfettoFormat perfetto_format = PerfettoFormat::kAuto;
  double connect_timeout_s = 5;
  uint64_t from = 0, to = ~0ull;  // dump
  bool quiet = false, help = false, version = false;
};

// Every option, one CLI11 declaration each (common/cli.h). A value may not
// be empty ("--json is empty").
void Declare(CLI::App& app, Options* o, std::vector<std::string>* positional) {
  cli::Configure(app);
  app.add_flag("-h,--help", o->help, "this text");
  app.add_option("COMMAND", *positional,
                 "replay FILE: rebuild the TLB state from a trace (tlbscope run --record) and "
                 "check it; live ADDR: the same, subscribed to a running tlbscope (run --listen "
                 "ADDR); invariants: list the invariants checked; dump FILE [FROM [TO]]: print "
                 "the trace's records, events FROM..TO, one per line");
  auto text = [&app](const std::string& name, std::string* out, const std::string& help) {
    app.add_option_function<std::string>(
           name,
           [name, out](const std::string& v) {
             if (v.empty()) throw CLI::ValidationError(name + " is empty");
             *out = v;
           },
           help)
        ->type_name("FILE");
  };
  text("--json", &o->json, "write the summary (verdict, violations, state, stats) as JSON");
  text("--perfetto", &o->perfetto,
       "write a trace for ui.perfetto.dev: a track per vCPU, shootdown flows");
  app.add_option_function<std::string>(
         "--perfetto-format",
         [o](const std::string& v) {
           absl::StatusOr<PerfettoFormat> f = ParsePerfettoFormat(v);
           if (!f.ok()) throw CLI::ValidationError(std::string(f.status().message()));
           o->perfetto_format = *f;
         },
         "proto (Perfetto's native trace), json (Chrome JSON) or auto (default: json for a "
         "FILE ending in .json, else proto)")
      ->type_name("F");
  app.add_flag("--quiet", o->quiet, "print only violations and the verdict");
  app.add_flag("--version", o->version, "print the version, git revision and proto schema version");
  text("--token-file", &o->token_file, "live: bearer token for the TraceService");
  text("--tls-ca", &o->tls_ca, "live: TLS, trusting the PEM certificates in F");
  app.add_option_function<std::string>(
         "--connect-timeout",
         [o](const std::string& v) {
           absl::StatusOr<double> t = cli::ParseNumber<double>(v);
           if (!t.ok() || *t <= 0) {
             throw CLI::ValidationError(
                 absl::StrFormat("--connect-timeout: '%s' is not a positive number", v));
           }
           o->connect_timeout_s = *t;
         },
         "live: give up connecting after S seconds (default 5)")
      ->type_name("S");
  app.footer(
      "exit status: 0 clean, 1 violations found, 2 bad arguments, 3 the input failed\n"
      "(unreadable, truncated or cut-short trace; unreachable server; bad token), 4 the\n"
      "model's state differed from a Linux guest's own (the `state vs guest` line)");
}

absl::StatusOr<Options> Parse(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> positional;
  CLI::App app("", "tlbcollect");
  Declare(app, &o, &positional);
  if (absl::Status s = cli::ParseArgs(app, args); !s.ok()) return s;
  if (o.help || o.version) return o;
  if (positional.empty()) {
    return absl::InvalidArgumentError(
        "missing command: replay FILE, live ADDR, dump FILE or invariants");
  }
  o.command = positional[0];
  if (o.command == "invariants") return o;
  if (o.command == "dump") {
    if (positional.size() < 2 || positional.size() > 4) {
      return absl::InvalidArgumentError("dump takes FILE [FROM [TO]]");
    }
    o.target = positional[1];
    for (size_t i = 2; i < positional.size(); ++i) {
      absl::StatusOr<uint64_t> v = cli::ParseNumber<uint64_t>(positional[i]);
      if (!v.ok()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("dump: '%s' is not a sequence", positional[i]));
      }
      (i == 2 ? o.from : o.to) = *v;
    }
    return o;
  }
  if (o.command != "replay" && o.command != "live") {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unknown command '%s' (replay FILE, live ADDR, dump FILE, invariants)", o.command));
  }
  if (positional.size() != 2) {
    return absl::InvalidArgumentError(absl::StrFormat("%s takes exactly one %s", o.command,
                                                      o.command == "replay" ? "FILE" : "ADDR"));
  }
  o.target = positional[1];
  if (o.command == "replay" && (!o.token_file.empty() || !o.tls_ca.empty())) {
    return absl::InvalidArgumentError("--token-file and --tls-ca are for `live`");
  }
  return o;
}

// An output path must be writable before anything is read.
// (the policy: common/output_file.h)
absl::Status CheckWritable(const char* flag, const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  if (absl::Status s = CheckOutputPath(flag, path); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  return absl::OkStatus();
}

}  // namespace

const char* TlbcollectUsage() {
  static const std::string text = [] {
    Options o;
    std::vector<std::string> positional;
    CLI::App app("", "tlbcollect");
    Declare(app, &o, &positional);
    return cli::Help(app);
  }();
  return text.c_str();
}

namespace {

// One line on `err`: the error's message; returns `status`.
int Fail(FILE* err, const absl::Status& error, int status) {
  std::fprintf(err, "tlbcollect: error: %s\n", std::string(error.message()).c_str());
  return status;
}

// --version, --help, invariants and dump: what reads no events through the
// collector. nullopt for replay and live.
std::optional<int> RunOtherCommand(const Options& o, FILE* out, FILE* err) {
  if (o.version) {
    std::fputs(VersionText("tlbcollect").c_str(), out);
    return kExitClean;
  }
  if (o.help) {
    std::fputs(TlbcollectUsage(), out);
    return kExitClean;
  }
  if (o.command == "invariants") {
    for (const InvariantInfo& i : InvariantCatalog()) {
      std::fprintf(out, "%-28s %s\n", i.name, i.summary);
    }
    return kExitClean;
  }
  if (o.command == "dump") {
    if (absl::Status s = DumpTrace(o.target, o.from, o.to, out); !s.ok()) {
      return Fail(err, s, kExitInput);
    }
    return kExitClean;
  }
  return std::nullopt;
}

// The outputs are checked (and --perfetto opened) before anything is read;
// the Perfetto writer, if asked for, observes `c`.
absl::StatusOr<std::unique_ptr<PerfettoExport>> OpenOutputs(const Options& o, Collector& c) {
  for (auto [flag, path] : {std::pair{"--json", o.json}, std::pair{"--perfetto", o.perfetto}}) {
    if (absl::Status s = CheckWritable(flag, path); !s.ok()) return s;
  }
  if (o.perfetto.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<PerfettoExport>> p =
      CreatePerfettoExport(o.perfetto, o.perfetto_format);
  if (p.ok()) c.AddObserver(p->get());
  return p;
}

// Feeds `c` from the trace file or the live stream (a status line a second
// on `out` unless --quiet); the input's error, if it stopped early.
absl::Status ReadInput(const Options& o, Collector& c, SourceInfo* info, FILE* out) {
  if (o.command == "replay") {
    info->source = "replay " + o.target;
    return Replay(o.target, c);
  }
  info->source = "live " + NormalizeAddress(o.target);
  LiveOptions lo{o.target, o.token_file, o.tls_ca, o.connect_timeout_s};
  auto last = std::chrono::steady_clock::now();
  return Live(lo, c, [&] {
    auto now = std::chrono::steady_clock::now();
    if (o.quiet || now - last < std::chrono::seconds(1)) return;
    last = now;
    std::fprintf(out, "%s%s\n", kPrefix, FormatStatusLine(c).c_str());
    std::fflush(out);
  });
}

// The state and the verdict (--quiet: the verdict only).
void PrintSummary(const Collector& c, bool quiet, FILE* out) {
  std::string s = FormatSummary(c, kPrefix);
  size_t v = quiet ? s.rfind(std::string(kPrefix) + "verdict") : std::string::npos;
  std::fputs(s.substr(v == std::string::npos ? 0 : v).c_str(), out);
  std::fflush(out);
}

// Ends --perfetto and writes --json; kExitInput if either failed.
int FinishOutputs(const Options& o, const Collector& c, const SourceInfo& info,
                  PerfettoExport* perfetto, FILE* err) {
  int status = kExitClean;
  if (perfetto != nullptr) {
    if (absl::Status s = perfetto->Close(); !s.ok()) status = Fail(err, s, kExitInput);
  }
  if (!o.json.empty()) {
    if (absl::Status s = WriteFileAtomically("--json", o.json, SummaryJson(c, info)); !s.ok()) {
      status = Fail(err, s, kExitInput);
    }
  }
  return status;
}

}  // namespace

int RunTlbcollect(const std::vector<std::string>& args, FILE* out, FILE* err) {
  absl::StatusOr<Options> o = Parse(args);
  if (!o.ok()) {
    std::fprintf(err, "tlbcollect: error: %s (try `tlbcollect --help`)\n",
                 std::string(o.status().message()).c_str());
    return kExitUsage;
  }
  if (std::optional<int> done = RunOtherCommand(*o, out, err)) return *done;
  Collector c;
  absl::StatusOr<std::unique_ptr<PerfettoExport>> perfetto = OpenOutputs(*o, c);
  if (!perfetto.ok()) return Fail(err, perfetto.status(), kExitUsage);
  c.OnViolation([out](const Violation& v) {
    std::fputs(FormatViolationLine(v, kPrefix).c_str(), out);
    std::fflush(out);
  });
  SourceInfo info;
  absl::Status input = ReadInput(*o, c, &info, out);
  c.Finish(input.ok());
  if (!input.ok()) info.input_error = std::string(input.message());
  // Everything found so far is reported, whatever stopped the input.
  PrintSummary(c, o->quiet, out);
  int status = FinishOutputs(*o, c, info, perfetto->get(), err);
  if (!input.ok()) {
    Fail(err, input, kExitInput);
    if (status == kExitClean) status = kExitInput;
  }
  if (status == kExitClean && c.state_check().mismatches > 0) status = kExitStateMismatch;
  if (c.violation_count() > 0) status = kExitViolations;
  return status;
}

}  // namespace tlbscope::collect
