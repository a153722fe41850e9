#include "regress/merge_command.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "regress/baseline.h"
#include "regress/junit.h"
#include "regress/report.h"

namespace tlbscope {
namespace {

const char kUsage[] =
    "usage: tlbscope regress merge OUT... [options]\n"
    "  OUT                   a shard's --out DIR (or its report.json)\n"
    "  --junit FILE          one JUnit XML file for the whole suite\n"
    "  --write-baseline FILE one baseline for the whole suite\n";

int Fail(const std::string& msg) {
  std::fprintf(stderr, "tlbscope regress merge: error: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int RegressMergeCommand(const std::vector<std::string>& args) {
  std::vector<std::string> paths;
  std::string junit, write_baseline;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a.rfind("--", 0) != 0) {
      std::error_code ec;
      paths.push_back(std::filesystem::is_directory(a, ec) ? a + "/report.json" : a);
      continue;
    }
    if (i + 1 >= args.size()) return Fail(a + " needs a value");
    if (a == "--junit") {
      junit = args[++i];
    } else if (a == "--write-baseline") {
      write_baseline = args[++i];
    } else {
      return Fail(absl::StrFormat("unknown option '%s'", a));
    }
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

  std::fprintf(stderr, "tlbscope regress merge: suite %s, %zu shards, %zu runs\n", m->suite.c_str(),
               reports.size(), m->runs.size());
  std::fputs(regress::SummaryTable(m->runs).c_str(), stdout);
  int status = 0;
  for (const regress::RunVerdict& v : m->runs) status |= !v.passed;
  if (!junit.empty()) {
    regress::JunitSuite js;
    js.name = m->suite;
    js.hostname = m->hostnames[0];
    for (size_t k = 0; k < m->hostnames.size(); ++k) {
      js.properties.emplace_back(absl::StrFormat("shard.%d.hostname", k + 1), m->hostnames[k]);
    }
    if (absl::Status s = regress::WriteJunit(junit, js, m->runs); !s.ok()) {
      std::fprintf(stderr, "tlbscope regress merge: error: %s\n", std::string(s.message()).c_str());
      status = 1;
    }
  }
  if (!write_baseline.empty()) {
    if (absl::Status s = regress::WriteBaseline(write_baseline, m->suite, m->runs); !s.ok()) {
      std::fprintf(stderr, "tlbscope regress merge: error: %s\n", std::string(s.message()).c_str());
      status = 1;
    }
  }
  return status;
}

}  // namespace tlbscope
