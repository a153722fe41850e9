#include "regress/command.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/file_names.h"
#include "common/output_file.h"
#include "regress/merge_command.h"
#include "common/status_line.h"
#include "regress/baseline.h"
#include "regress/junit.h"
#include "regress/report.h"
#include "regress/runner.h"
#include "regress/shard.h"
#include "regress/suite.h"

namespace tlbscope {
namespace {

const char kUsage[] =
    "usage: tlbscope regress SUITE [options]\n"
    "  SUITE                 a suite file (TOML; docs/regress.md)\n"
    "  --jobs N              runs at once (default: the number of cores)\n"
    "  --out DIR             one folder per run: trace, serial log, results (default\n"
    "                        $XDG_CACHE_HOME/tlbscope/regress/SUITE, i.e.\n"
    "                        ~/.cache/tlbscope/regress/SUITE)\n"
    "  --junit FILE          JUnit XML, one testcase per run\n"
    "  --only NAME           run only this run (repeatable)\n"
    "  --baseline FILE       compare counts per event kind and shootdown latency\n"
    "                        percentiles with a stored run\n"
    "  --tolerance F         allowed relative change of a count (default 0.25, plus 4 events)\n"
    "  --latency-tolerance F allowed relative increase of a latency percentile (default 3)\n"
    "  --write-baseline FILE store this run's counts and latencies\n"
    "  --list                print the runs and exit\n"
    "  --shard K/N           run only part K of N (1-based; balanced by the baseline's\n"
    "                        times); default: from CI_NODE_INDEX/CI_NODE_TOTAL (GitLab) or\n"
    "                        JOB_COMPLETION_INDEX (Kubernetes) with --shard-total N or\n"
    "                        TLBSCOPE_SHARD_TOTAL; --shard 1/1 runs everything\n"
    "  --shard-total N       the number of shards of a Kubernetes Indexed Job\n"
    "every run writes OUT/report.json; `tlbscope regress merge OUT...` joins shards\n";

int Fail(const std::string& msg) {
  std::fprintf(stderr, "tlbscope regress: error: %s\n", msg.c_str());
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
    return absl::InvalidArgumentError("no --out given and no XDG_CACHE_HOME or HOME to put runs in");
  }
  return base + "/tlbscope/regress/" + suite_name;
}

}  // namespace

int RegressCommand(const std::vector<std::string>& args, const std::string& self,
                   const std::string& default_kernel) {
  if (!args.empty() && args[0] == "merge") {
    return RegressMergeCommand(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::string suite_path, junit, baseline, write_baseline;
  regress::RunnerOptions o;
  o.tlbscope = self.empty() ? "tlbscope" : self;
  o.default_kernel = default_kernel;
  o.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  regress::Tolerance tol;
  std::vector<std::string> only;
  bool list = false;
  std::optional<regress::Shard> shard;
  int shard_total = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--list") {
      list = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      if (!suite_path.empty())
        return Fail(absl::StrFormat("two suites given: %s, %s", suite_path, a));
      suite_path = a;
      continue;
    }
    if (i + 1 >= args.size()) return Fail(a + " needs a value");
    const std::string& v = args[++i];
    double d = 0;
    int n = 0;
    if (a == "--jobs") {
      if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 64) return Fail("--jobs must be 1 to 64");
      o.jobs = n;
    } else if (a == "--out") {
      o.out_dir = v;
    } else if (a == "--junit") {
      junit = v;
    } else if (a == "--shard") {
      absl::StatusOr<regress::Shard> sh = regress::ParseShard(v);
      if (!sh.ok()) return Fail(std::string(sh.status().message()));
      shard = *sh;
    } else if (a == "--shard-total") {
      if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 1000) {
        return Fail("--shard-total must be 1 to 1000");
      }
      shard_total = n;
    } else if (a == "--only") {
      only.push_back(v);
    } else if (a == "--baseline") {
      baseline = v;
    } else if (a == "--write-baseline") {
      write_baseline = v;
    } else if (a == "--tolerance") {
      if (!absl::SimpleAtod(v, &d) || d < 0) return Fail("--tolerance must be a number >= 0");
      tol.counts = d;
    } else if (a == "--latency-tolerance") {
      if (!absl::SimpleAtod(v, &d) || d < 0) {
        return Fail("--latency-tolerance must be a number >= 0");
      }
      tol.latency = d;
    } else {
      return Fail(absl::StrFormat("unknown option '%s'", a));
    }
  }
  if (suite_path.empty()) return Fail("no suite given (tlbscope regress SUITE)");
  // Reports are checked before any run (the policy: common/output_file.h).
  for (auto [flag, path] :
       {std::pair{"--junit", junit}, std::pair{"--write-baseline", write_baseline}}) {
    if (path.empty()) continue;
    if (absl::Status s = CheckOutputPath(flag, path); !s.ok())
      return Fail(std::string(s.message()));
  }

  absl::StatusOr<regress::Suite> suite = regress::LoadSuite(suite_path);
  if (!suite.ok()) return Fail(std::string(suite.status().message()));
  if (!only.empty()) {
    std::vector<regress::RunSpec> keep;
    for (const std::string& name : only) {
      auto it = std::find_if(suite->runs.begin(), suite->runs.end(),
                             [&](const regress::RunSpec& r) { return r.name == name; });
      if (it == suite->runs.end()) return Fail(absl::StrFormat("--only %s: no such run", name));
      keep.push_back(*it);
    }
    suite->runs = keep;
  }
  if (absl::Status s = regress::ResolveSuite(&*suite); !s.ok())
    return Fail(std::string(s.message()));
  std::optional<v1::RegressBaseline> base;
  if (!baseline.empty()) {
    absl::StatusOr<v1::RegressBaseline> b = regress::ReadBaseline(baseline);
    if (!b.ok()) return Fail(std::string(b.status().message()));
    base = *b;
  }
  if (!shard) {
    auto from_env =
        regress::ShardFromEnv([](const char* k) { return std::getenv(k); }, shard_total);
    if (!from_env.ok()) return Fail(std::string(from_env.status().message()));
    shard = from_env->value_or(regress::Shard{1, 1, "default"});
  } else if (shard_total != 0) {
    return Fail("--shard-total is for JOB_COMPLETION_INDEX; --shard K/N already says N");
  }
  const std::vector<regress::RunSpec> whole = suite->runs;
  suite->runs = regress::SelectShard(whole, *shard, base ? &*base : nullptr);
  if (list) {
    for (const regress::RunSpec& r : suite->runs) {
      std::printf("%s: smp %d, %s %s seed %lu, expect %s\n", r.name.c_str(), r.smp,
                  r.scenario.c_str(), r.variant.c_str(), static_cast<unsigned long>(r.seed),
                  regress::ExpectedText(r).c_str());
    }
    return 0;
  }
  if (o.out_dir.empty()) {
    absl::StatusOr<std::string> dir = DefaultOutDir(suite->name);
    if (!dir.ok()) return Fail(std::string(dir.status().message()));
    o.out_dir = *dir;
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return Fail(absl::StrFormat("--out %s: %s", o.out_dir, ec.message()));

  std::string part = shard->total == 1
                         ? ""
                         : absl::StrFormat(" (shard %d/%d of %zu, from %s)", shard->index,
                                           shard->total, whole.size(), shard->source);
  std::fprintf(stderr, "tlbscope regress: suite %s, %zu runs%s, %d at once, output in %s\n",
               suite->name.c_str(), suite->runs.size(), part.c_str(), o.jobs, o.out_dir.c_str());
  StatusLine status_line(stderr, StatusLine::IsTerminal(stderr));
  o.status = &status_line;
  std::vector<regress::RunVerdict> verdicts = regress::RunSuite(*suite, o);
  if (base) regress::CompareToBaseline(*base, tol, &verdicts);
  std::fputs(regress::SummaryTable(verdicts).c_str(), stdout);
  int status = 0;
  for (const regress::RunVerdict& v : verdicts) status |= !v.passed;
  if (absl::Status s = regress::WriteReport(
          o.out_dir + "/report.json", regress::MakeReport(suite->name, *shard, whole, verdicts));
      !s.ok()) {
    std::fprintf(stderr, "tlbscope regress: error: %s\n", std::string(s.message()).c_str());
    status = 1;
  }
  if (!junit.empty()) {
    if (absl::Status s = regress::WriteJunit(junit, suite->name, verdicts); !s.ok()) {
      std::fprintf(stderr, "tlbscope regress: error: %s\n", std::string(s.message()).c_str());
      status = 1;
    }
  }
  if (!write_baseline.empty()) {
    if (absl::Status s = regress::WriteBaseline(write_baseline, suite->name, verdicts); !s.ok()) {
      std::fprintf(stderr, "tlbscope regress: error: %s\n", std::string(s.message()).c_str());
      status = 1;
    }
  }
  return status;
}

}  // namespace tlbscope
