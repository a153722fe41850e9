#include "regress/merge_command.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/cli.h"
#include "common/log.h"
#include "regress/baseline.h"
#include "regress/junit.h"
#include "regress/report.h"

namespace tlbscope {
namespace {

int Fail(const std::string& msg) {
  LogError("regress merge", msg);
  return 2;
}

}  // namespace

int RegressMergeCommand(const std::vector<std::string>& args) {
  std::vector<std::string> outs;
  std::string junit, write_baseline;
  CLI::App app("", "tlbscope regress merge");
  cli::Configure(app);
  app.add_flag("-h,--help")->description("this text");
  app.add_option("OUT", outs, "a shard's --out DIR (or its report.json)");
  app.add_option("--junit", junit, "one JUnit XML file for the whole suite")->type_name("FILE");
  app.add_option("--write-baseline", write_baseline, "one baseline for the whole suite")
      ->type_name("FILE");
  if (std::optional<int> done = cli::ParseCommandArgs(app, args, "regress merge")) return *done;
  std::vector<std::string> paths;
  for (const std::string& out : outs) {
    std::error_code ec;
    paths.push_back(std::filesystem::is_directory(out, ec) ? out + "/report.json" : out);
  }
  if (paths.empty()) return Fail("no shard outputs given (tlbscope regress merge OUT...)");
  std::vector<v1::RegressReport> reports;
  for (const std::string& p : paths) {
    absl::StatusOr<v1::RegressReport> r = regress::ReadReport(p);
    if (!r.ok()) return Fail(std::string(r.status().message()));
    reports.push_back(*std::move(r));
  }
  absl::StatusOr<regress::Merged> m = regress::MergeReports(paths, reports);
  if (!m.ok()) return Fail(std::string(m.status().message()));

  LogFor("regress merge", "suite %s, %zu shards, %zu runs", m->suite, reports.size(),
         m->runs.size());
  std::fputs(regress::SummaryTable(m->runs).c_str(), stdout);
  int status = 0;
  for (const regress::RunVerdict& v : m->runs) status |= regress::Failed(v);
  if (!junit.empty()) {
    regress::JunitSuite js;
    js.name = m->suite;
    js.hostname = m->hostnames[0];
    for (size_t k = 0; k < m->hostnames.size(); ++k) {
      js.properties.emplace_back(absl::StrFormat("shard.%d.hostname", k + 1), m->hostnames[k]);
    }
    if (absl::Status s = regress::WriteJunit(junit, js, m->runs); !s.ok()) {
      LogError("regress merge", s.message());
      status = 1;
    }
  }
  if (!write_baseline.empty()) {
    if (absl::Status s = regress::WriteBaseline(write_baseline, m->suite, m->runs); !s.ok()) {
      LogError("regress merge", s.message());
      status = 1;
    }
  }
  return status;
}

}  // namespace tlbscope
