#include "collectors/tlbcollect_cli.h"

#include <charconv>
#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "collectors/collector.h"
#include "collectors/dump_command.h"
#include "collectors/live_source.h"
#include "collectors/perfetto_export.h"
#include "collectors/replay_source.h"
#include "collectors/summary_json.h"
#include "collectors/terminal.h"
#include "version/version.h"
#include "common/output_file.h"

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

absl::StatusOr<Options> Parse(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    bool inline_value = false;
    if (size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      inline_value = true;
    }
    if (flag == "-h" || flag == "--help") {
      o.help = true;
      continue;
    }
    if (flag == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (flag == "--version") {
      o.version = true;
      continue;
    }
    if (flag.rfind("--", 0) != 0) {
      positional.push_back(flag);
      continue;
    }
    if (flag != "--json" && flag != "--perfetto" && flag != "--token-file" && flag != "--tls-ca" &&
        flag != "--connect-timeout" && flag != "--perfetto-format") {
      return absl::InvalidArgumentError(absl::StrFormat("unknown option '%s'", args[i]));
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrFormat("%s needs a value", flag));
      }
      value = args[++i];
    }
    if (value.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s is empty", flag));
    if (flag == "--json") o.json = value;
    if (flag == "--perfetto") o.perfetto = value;
    if (flag == "--perfetto-format") {
      absl::StatusOr<PerfettoFormat> f = ParsePerfettoFormat(value);
      if (!f.ok()) return f.status();
      o.perfetto_format = *f;
    }
    if (flag == "--token-file") o.token_file = value;
    if (flag == "--tls-ca") o.tls_ca = value;
    if (flag == "--connect-timeout") {
      auto [p, ec] =
          std::from_chars(value.data(), value.data() + value.size(), o.connect_timeout_s);
      if (ec != std::errc() || p != value.data() + value.size() || o.connect_timeout_s <= 0) {
        return absl::InvalidArgumentError(
            absl::StrFormat("--connect-timeout: '%s' is not a positive number", value));
      }
    }
  }
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
      uint64_t v = 0;
      const std::string& t = positional[i];
      auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || ptr != t.data() + t.size()) {
        return absl::InvalidArgumentError(absl::StrFormat("dump: '%s' is not a sequence", t));
      }
      (i == 2 ? o.from : o.to) = v;
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
  return "usage: tlbcollect COMMAND [options]\n"
         "  replay FILE        rebuild the TLB state from a trace (tlbscope run --record) and "
         "check it\n"
         "  live ADDR          the same, subscribed to a running tlbscope (run --listen ADDR)\n"
         "  invariants         list the invariants checked\n"
         "  dump FILE [FROM [TO]]  print the trace's records, events FROM..TO, one per line\n"
         "options:\n"
         "  --json FILE        write the summary (verdict, violations, state, stats) as JSON\n"
         "  --perfetto FILE    write a trace for ui.perfetto.dev: a track per vCPU, shootdown "
         "flows\n"
         "  --perfetto-format F  proto (Perfetto's native trace), json (Chrome JSON) or auto\n"
         "                     (default: json for a FILE ending in .json, else proto)\n"
         "  --quiet            print only violations and the verdict\n"
         "  --version          print the version, git revision and proto schema version\n"
         "  --token-file F     live: bearer token for the TraceService\n"
         "  --tls-ca F         live: TLS, trusting the PEM certificates in F\n"
         "  --connect-timeout S  live: give up connecting after S seconds (default 5)\n"
         "exit status: 0 clean, 1 violations found, 2 bad arguments, 3 the input failed\n"
         "(unreadable, truncated or cut-short trace; unreachable server; bad token)\n";
}

int RunTlbcollect(const std::vector<std::string>& args, FILE* out, FILE* err) {
  absl::StatusOr<Options> o = Parse(args);
  if (!o.ok()) {
    std::fprintf(err, "tlbcollect: error: %s (try `tlbcollect --help`)\n",
                 std::string(o.status().message()).c_str());
    return kExitUsage;
  }
  if (o->version) {
    std::fputs(VersionText("tlbcollect").c_str(), out);
    return kExitClean;
  }
  if (o->help) {
    std::fputs(TlbcollectUsage(), out);
    return kExitClean;
  }
  if (o->command == "invariants") {
    for (const InvariantInfo& i : InvariantCatalog()) {
      std::fprintf(out, "%-28s %s\n", i.name, i.summary);
    }
    return kExitClean;
  }
  if (o->command == "dump") {
    if (absl::Status s = DumpTrace(o->target, o->from, o->to, out); !s.ok()) {
      std::fprintf(err, "tlbcollect: error: %s\n", std::string(s.message()).c_str());
      return kExitInput;
    }
    return kExitClean;
  }
  for (auto [flag, path] : {std::pair{"--json", o->json}, std::pair{"--perfetto", o->perfetto}}) {
    if (absl::Status s = CheckWritable(flag, path); !s.ok()) {
      std::fprintf(err, "tlbcollect: error: %s\n", std::string(s.message()).c_str());
      return kExitUsage;
    }
  }
  Collector c;
  std::unique_ptr<PerfettoExport> perfetto;
  if (!o->perfetto.empty()) {
    absl::StatusOr<std::unique_ptr<PerfettoExport>> p =
        CreatePerfettoExport(o->perfetto, o->perfetto_format);
    if (!p.ok()) {
      std::fprintf(err, "tlbcollect: error: %s\n", std::string(p.status().message()).c_str());
      return kExitUsage;
    }
    perfetto = std::move(*p);
    c.AddObserver(perfetto.get());
  }
  c.OnViolation([out](const Violation& v) {
    std::fputs(FormatViolationLine(v, kPrefix).c_str(), out);
    std::fflush(out);
  });

  absl::Status input;
  SourceInfo info;
  if (o->command == "replay") {
    info.source = "replay " + o->target;
    input = Replay(o->target, c);
  } else {
    info.source = "live " + NormalizeAddress(o->target);
    LiveOptions lo{o->target, o->token_file, o->tls_ca, o->connect_timeout_s};
    auto last = std::chrono::steady_clock::now();
    bool quiet = o->quiet;
    input = Live(lo, c, [&] {
      auto now = std::chrono::steady_clock::now();
      if (quiet || now - last < std::chrono::seconds(1)) return;
      last = now;
      std::fprintf(out, "%s%s\n", kPrefix, FormatStatusLine(c).c_str());
      std::fflush(out);
    });
  }
  c.Finish(input.ok());
  if (!input.ok()) info.input_error = std::string(input.message());

  // Everything found so far is reported, whatever stopped the input.
  int status = kExitClean;
  if (!o->quiet) {
    std::fputs(FormatSummary(c, kPrefix).c_str(), out);
  } else {
    std::string s = FormatSummary(c, kPrefix);
    size_t v = s.rfind(std::string(kPrefix) + "verdict");
    std::fputs(s.substr(v == std::string::npos ? 0 : v).c_str(), out);
  }
  std::fflush(out);
  if (perfetto) {
    if (absl::Status s = perfetto->Close(); !s.ok()) {
      std::fprintf(err, "tlbcollect: error: %s\n", std::string(s.message()).c_str());
      status = kExitInput;
    }
  }
  if (!o->json.empty()) {
    if (absl::Status s = WriteFileAtomically("--json", o->json, SummaryJson(c, info)); !s.ok()) {
      std::fprintf(err, "tlbcollect: error: %s\n", std::string(s.message()).c_str());
      status = kExitInput;
    }
  }
  if (!input.ok()) {
    std::fprintf(err, "tlbcollect: error: %s\n", std::string(input.message()).c_str());
    if (status == kExitClean) status = kExitInput;
  }
  if (c.violation_count() > 0) status = kExitViolations;
  return status;
}

}  // namespace tlbscope::collect
