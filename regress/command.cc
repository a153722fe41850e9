#include "regress/command.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "absl/strings/str_format.h"
#include "common/cli.h"
#include "common/file_names.h"
#include "common/log.h"
#include "common/output_file.h"
#include "common/status_line.h"
#include "regress/baseline.h"
#include "regress/junit.h"
#include "regress/merge_command.h"
#include "regress/report.h"
#include "regress/runner.h"
#include "regress/shard.h"
#include "regress/suite.h"

namespace tlbscope {
namespace {

int Fail(const std::string& msg) {
  LogError("regress", msg);
  return 2;
}

// Where runs go without --out: the user's cache, one folder per suite, so
// a run never litters the folder it was started from (the repo root) and
// the last run of a suite is easy to find (the start line prints it).
absl::StatusOr<std::string> DefaultOutDir(const std::string& suite_name) {
  if (absl::Status s = CheckFileName(suite_name, "suite name"); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s; give --out DIR", s.message()));
  }
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string base;
  if (cache != nullptr && cache[0] == '/') {
    base = cache;
  } else if (home != nullptr && home[0] == '/') {
    base = std::string(home) + "/.cache";
  } else {
    return absl::InvalidArgumentError(
        "no --out given and no XDG_CACHE_HOME or HOME to put runs in");
  }
  return base + "/tlbscope/regress/" + suite_name;
}

// What the command line says (one CLI11 declaration per option below).
struct RegressArgs {
  std::vector<std::string> suites;  // SUITE: one (a second is an error)
  std::string junit, baseline, write_baseline;
  regress::RunnerOptions runner;
  regress::Tolerance tol;
  std::vector<std::string> only;
  bool list = false, help = false;
  std::optional<regress::Shard> shard;
  int shard_total = 0;
};

void Declare(CLI::App& app, RegressArgs* a) {
  cli::Configure(app);
  app.add_flag("-h,--help", a->help, "this text");
  app.add_option("SUITE", a->suites, "a suite file (TOML; docs/regress.md)");
  cli::AddNumberIn(app, "--jobs", &a->runner.jobs, 1, 64, "1 to 64",
                   "runs at once (default: the number of cores)");
  app.add_option("--out", a->runner.out_dir,
                 "one folder per run: trace, serial log, results (default "
                 "$XDG_CACHE_HOME/tlbscope/regress/SUITE, i.e. ~/.cache/tlbscope/regress/SUITE)")
      ->type_name("DIR");
  app.add_option("--junit", a->junit, "JUnit XML, one testcase per run")->type_name("FILE");
  app.add_option("--only", a->only, "run only this run (repeatable)")
      ->type_name("NAME")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--baseline", a->baseline,
                 "compare counts per event kind and shootdown latency percentiles with a stored "
                 "run")
      ->type_name("FILE");
  cli::AddNumberIn(app, "--tolerance", &a->tol.counts, 0.0, 1e300, "a number >= 0",
                   "allowed relative change of a count (default 0.25, plus 4 events)", "F");
  cli::AddNumberIn(app, "--latency-tolerance", &a->tol.latency, 0.0, 1e300, "a number >= 0",
                   "allowed relative increase of a latency percentile (default 3)", "F");
  app.add_option("--write-baseline", a->write_baseline, "store this run's counts and latencies")
      ->type_name("FILE");
  app.add_flag("--list", a->list, "print the runs and exit");
  app.add_option_function<std::string>(
         "--shard",
         [a](const std::string& v) {
           absl::StatusOr<regress::Shard> sh = regress::ParseShard(v);
           if (!sh.ok()) throw CLI::ValidationError(std::string(sh.status().message()));
           a->shard = *sh;
         },
         "run only part K of N (1-based; balanced by the baseline's times); default: from "
         "CI_NODE_INDEX/CI_NODE_TOTAL (GitLab) or JOB_COMPLETION_INDEX (Kubernetes) with "
         "--shard-total N or TLBSCOPE_SHARD_TOTAL; --shard 1/1 runs everything")
      ->type_name("K/N");
  cli::AddNumberIn(app, "--shard-total", &a->shard_total, 1, 1000, "1 to 1000",
                   "the number of shards of a Kubernetes Indexed Job");
  app.footer("every run writes OUT/report.json; `tlbscope regress merge OUT...` joins shards");
}

std::string Usage() {
  RegressArgs a;
  CLI::App app("", "tlbscope regress");
  Declare(app, &a);
  return cli::Help(app);
}

absl::StatusOr<RegressArgs> ParseRegressArgs(const std::vector<std::string>& args) {
  RegressArgs a;
  a.runner.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CLI::App app("", "tlbscope regress");
  Declare(app, &a);
  if (absl::Status s = cli::ParseArgs(app, args); !s.ok()) return s;
  if (a.help) return a;
  if (a.suites.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("two suites given: %s, %s", a.suites[0], a.suites[1]));
  }
  if (a.suites.empty())
    return absl::InvalidArgumentError("no suite given (tlbscope regress SUITE)");
  // Reports are checked before any run (the policy: common/output_file.h).
  for (auto [flag, path] :
       {std::pair{"--junit", a.junit}, std::pair{"--write-baseline", a.write_baseline}}) {
    if (path.empty()) continue;
    if (absl::Status s = CheckOutputPath(flag, path); !s.ok()) return s;
  }
  return a;
}

// What regress will run: the suite's runs that --only and the shard
// select (`whole`: all of them), and the baseline to compare with.
struct Plan {
  regress::Suite suite;
  regress::Shard shard;
  std::optional<v1::RegressBaseline> base;
  std::vector<regress::RunSpec> whole;
};

absl::StatusOr<Plan> MakePlan(const RegressArgs& a) {
  Plan plan;
  absl::StatusOr<regress::Suite> suite = regress::LoadSuite(a.suites[0]);
  if (!suite.ok()) return suite.status();
  if (!a.only.empty()) {
    std::vector<regress::RunSpec> keep;
    for (const std::string& name : a.only) {
      auto it = std::find_if(suite->runs.begin(), suite->runs.end(),
                             [&](const regress::RunSpec& r) { return r.name == name; });
      if (it == suite->runs.end()) {
        return absl::InvalidArgumentError(absl::StrFormat("--only %s: no such run", name));
      }
      keep.push_back(*it);
    }
    suite->runs = keep;
  }
  if (absl::Status s = regress::ResolveSuite(&*suite); !s.ok()) return s;
  if (!a.baseline.empty()) {
    absl::StatusOr<v1::RegressBaseline> b = regress::ReadBaseline(a.baseline);
    if (!b.ok()) return b.status();
    plan.base = *b;
  }
  if (a.shard) {
    if (a.shard_total != 0) {
      return absl::InvalidArgumentError(
          "--shard-total is for JOB_COMPLETION_INDEX; --shard K/N already says N");
    }
    plan.shard = *a.shard;
  } else {
    auto from_env =
        regress::ShardFromEnv([](const char* k) { return std::getenv(k); }, a.shard_total);
    if (!from_env.ok()) return from_env.status();
    plan.shard = from_env->value_or(regress::Shard{1, 1, "default"});
  }
  plan.whole = suite->runs;
  suite->runs = regress::SelectShard(plan.whole, plan.shard, plan.base ? &*plan.base : nullptr);
  plan.suite = *std::move(suite);
  return plan;
}

// Runs the plan into o.out_dir and writes the reports; 0 when every run
// matched, 1 otherwise or when a report could not be written.
int RunPlan(const RegressArgs& a, regress::RunnerOptions o, Plan& plan) {
  const regress::Shard& shard = plan.shard;
  const regress::Suite& suite = plan.suite;
  std::string part = shard.total == 1
                         ? ""
                         : absl::StrFormat(" (shard %d/%d of %zu, from %s)", shard.index,
                                           shard.total, plan.whole.size(), shard.source);
  LogFor("regress", "suite %s, %zu runs%s, %d at once, output in %s", suite.name, suite.runs.size(),
         part, o.jobs, o.out_dir);
  StatusLine status_line(stderr, StatusLine::IsTerminal(stderr));
  o.status = &status_line;
  std::vector<regress::RunVerdict> verdicts = regress::RunSuite(suite, o);
  if (plan.base) regress::CompareToBaseline(*plan.base, a.tol, &verdicts);
  std::fputs(regress::SummaryTable(verdicts).c_str(), stdout);
  int status = 0;
  for (const regress::RunVerdict& v : verdicts) status |= regress::Failed(v);
  std::vector<absl::Status> written = {regress::WriteReport(
      o.out_dir + "/report.json", regress::MakeReport(suite.name, shard, plan.whole, verdicts))};
  if (!a.junit.empty()) written.push_back(regress::WriteJunit(a.junit, suite.name, verdicts));
  if (!a.write_baseline.empty()) {
    written.push_back(regress::WriteBaseline(a.write_baseline, suite.name, verdicts));
  }
  for (const absl::Status& s : written) {
    if (s.ok()) continue;
    LogError("regress", s.message());
    status = 1;
  }
  return status;
}

}  // namespace

int RegressCommand(const std::vector<std::string>& args, const std::string& tlbscope,
                   const std::string& default_kernel) {
  if (!args.empty() && args[0] == "merge") {
    return RegressMergeCommand(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  absl::StatusOr<RegressArgs> a = ParseRegressArgs(args);
  if (!a.ok()) return Fail(std::string(a.status().message()));
  if (a->help) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  regress::RunnerOptions o = a->runner;
  o.tlbscope = tlbscope;
  o.default_kernel = default_kernel;
  absl::StatusOr<Plan> plan = MakePlan(*a);
  if (!plan.ok()) return Fail(std::string(plan.status().message()));
  if (a->list) {
    for (const regress::RunSpec& r : plan->suite.runs) {
      std::string what =
          !r.workload.empty()
              ? absl::StrFormat("workload %s on %s", r.workload,
                                r.linux_variant.empty() ? "the test kernel" : r.linux_variant)
              : absl::StrFormat("%s %s seed %d", r.scenario, r.variant, r.seed);
      std::printf("%s: smp %d, %s, expect %s\n", r.name.c_str(), r.smp, what.c_str(),
                  regress::ExpectedText(r).c_str());
    }
    return 0;
  }
  if (tlbscope.empty() || ::access(tlbscope.c_str(), X_OK) != 0) {
    LogError("regress", absl::StrFormat("cannot run %s: %s (each run starts the tlbscope "
                                        "installed beside tlbscope-regress)",
                                        tlbscope.empty() ? "tlbscope" : tlbscope,
                                        std::strerror(tlbscope.empty() ? ENOENT : errno)));
    return 5;
  }
  if (o.out_dir.empty()) {
    absl::StatusOr<std::string> dir = DefaultOutDir(plan->suite.name);
    if (!dir.ok()) return Fail(std::string(dir.status().message()));
    o.out_dir = *dir;
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return Fail(absl::StrFormat("--out %s: %s", o.out_dir, ec.message()));
  return RunPlan(*a, o, *plan);
}

}  // namespace tlbscope
