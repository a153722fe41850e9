// tlbscope regress without KVM: suites, domain XML, JUnit, baselines.
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/scenario_names.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "regress/baseline.h"
#include "regress/domain_xml.h"
#include "regress/junit.h"
#include "regress/report.h"
#include "regress/runner.h"
#include "regress/suite.h"

namespace tlbscope::regress {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSuite[] = R"(
[suite]
name = "demo"
[defaults]
smp = [2, 4]
mem = 32
[[run]]
name = "a"
scenario = "lazy-free"
variant = "bug"
seed = 9
expect = ["table-freed-while-walkable"]
[[run]]
name = "b"
smp = 1
cmdline = "x=y"
timeout = 2.5
expect = "clean"
)";

TEST(SuiteTest, DefaultsListsAndExpectations) {
  absl::StatusOr<Suite> s = ParseSuite(kSuite, "/x/demo.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "demo");
  ASSERT_EQ(s->runs.size(), 3u);
  EXPECT_EQ(s->runs[0].name, "a-smp2");
  EXPECT_EQ(s->runs[1].name, "a-smp4");
  EXPECT_EQ(s->runs[1].smp, 4);
  EXPECT_EQ(s->runs[0].mem_mib, 32u);
  EXPECT_EQ(s->runs[0].seed, 9u);
  EXPECT_FALSE(s->runs[0].expect_clean);
  EXPECT_THAT(s->runs[0].expect_violations, ElementsAre("table-freed-while-walkable"));
  EXPECT_EQ(s->runs[2].name, "b");
  EXPECT_EQ(s->runs[2].smp, 1);
  EXPECT_DOUBLE_EQ(s->runs[2].timeout_s, 2.5);
  EXPECT_TRUE(s->runs[2].expect_clean);
  EXPECT_EQ(ExpectedText(s->runs[0]), "table-freed-while-walkable");
}

TEST(SuiteTest, RunArgsCarryTheScenarioAndKeepEverything) {
  absl::StatusOr<Suite> s = ParseSuite(kSuite, "demo.toml");
  ASSERT_TRUE(s.ok());
  RunnerOptions o;
  o.default_kernel = "/k.elf";
  std::vector<std::string> a = RunArgs(s->runs[0], o, "/out/a");
  std::string all;
  for (const std::string& x : a) all += x + " ";
  EXPECT_THAT(all, HasSubstr("run --kernel /k.elf --smp 2 --mem 32 "));
  EXPECT_THAT(all, HasSubstr("--cmdline scenario=lazy-free variant=bug seed=9 "));
  EXPECT_THAT(all, HasSubstr("--record /out/a/trace --serial-log /out/a/serial.log "
                             "--results /out/a/results.json"));
  a = RunArgs(s->runs[2], o, "/out/b");
  all.clear();
  for (const std::string& x : a) all += x + " ";
  EXPECT_THAT(all, HasSubstr("--cmdline x=y --timeout 2.5 "));
}

TEST(SuiteTest, BadSuitesNameTheLineAndTheKey) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\nsmpp = 2\n", "s.toml:4: unknown key 'smpp'"},
      {"[[run]]\nname = \"a\"\n", "run 'a' needs an expect"},
      {"[[run]]\nexpect = \"clean\"\n", "a [[run]] needs a name"},
      {"[[run]]\nname = \"a\"\nexpect = \"dirty\"\n",
       "'expect' must be \"clean\" or a non-empty list"},
      {"[[run]]\nname = \"a\"\nexpect = []\n", "non-empty list"},
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\nsmp = 65\n",
       "'smp' must be an integer from 1 to 64"},
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\nsmp = [2, \"4\"]\n", "'smp' values must be"},
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\nvariant = \"buggy\"\n",
       "'variant' must be \"correct\" or \"bug\""},
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\n[[run]]\nname = \"a\"\nexpect = \"clean\"\n",
       "run name 'a' is used twice"},
      {"[defaults]\nexpect = \"clean\"\n[[run]]\nname = \"a\"\nexpect = \"clean\"\n",
       "unknown key 'expect' in [defaults]"},
      {"[[run]\nname = 1\n", "s.toml:1:"},
      {"title = 3\n", "unknown top-level key 'title'"},
      {"[suite]\nname = \"x\"\n", "no [[run]] entries"},
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\ntimeout = -1\n", "'timeout' must be a positive"},
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\ntimeout = nan\n",
       "'timeout' must be a positive"},
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\ntimeout = inf\n", "at most a year"},
      {"[[run]]\nname = \"a\"\nexpect = \"clean\"\ntimeout = 1e10\n", "at most a year"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Suite> s = ParseSuite(c.text, "s.toml");
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.error)) << c.text;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("suite s.toml")) << c.text;
  }
  absl::StatusOr<Suite> missing = LoadSuite("/nonexistent/suite.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("suite /nonexistent/suite.toml"));
}

// A verdict and its report.json entry carry the same fields both ways
// (report.cc names each field once for both directions).
TEST(ReportTest, EveryFieldOfAVerdictSurvivesItsReport) {
  RunVerdict v;
  v.spec.name = "a";
  v.spec.expect_clean = false;
  v.spec.expect_violations = {"x", "y"};
  v.out_dir = "/o", v.trace_path = "/o/t", v.serial_path = "/o/s", v.log_path = "/o/l";
  v.passed = true, v.error = true;
  v.problem = "timeout", v.reason = "why", v.observed_text = "x";
  v.exit_status = 7;
  v.stop_reason = "guest-exit", v.stop_message = "bye";
  v.failed_checks = {"c1"};
  v.violations = {{"x", 3}};
  v.first_violation = "first";
  v.seconds = 1.5;
  v.started_unix = 1700000000;
  v.measured.set_flush_requests(42);
  v1::RegressReport r = MakeReport("s", Shard{1, 1, "default"}, {v.spec}, {v});
  ASSERT_EQ(r.runs_size(), 1);
  RunVerdict back = FromReport(r.runs(0));
  EXPECT_EQ(back.spec.name, "a");
  EXPECT_FALSE(back.spec.expect_clean);
  EXPECT_EQ(back.spec.expect_violations, v.spec.expect_violations);
  EXPECT_EQ(back.out_dir, "/o");
  EXPECT_EQ(back.trace_path, "/o/t");
  EXPECT_EQ(back.serial_path, "/o/s");
  EXPECT_EQ(back.log_path, "/o/l");
  EXPECT_TRUE(back.passed);
  EXPECT_TRUE(back.error);
  EXPECT_EQ(back.problem, "timeout");
  EXPECT_EQ(back.reason, "why");
  EXPECT_EQ(back.observed_text, "x");
  EXPECT_EQ(back.exit_status, 7);
  EXPECT_EQ(back.stop_reason, "guest-exit");
  EXPECT_EQ(back.stop_message, "bye");
  EXPECT_EQ(back.failed_checks, v.failed_checks);
  EXPECT_EQ(back.violations, v.violations);
  EXPECT_EQ(back.first_violation, "first");
  EXPECT_DOUBLE_EQ(back.seconds, 1.5);
  EXPECT_EQ(back.started_unix, 1700000000);
  EXPECT_EQ(back.measured.flush_requests(), 42u);
}

// A suite's scenario is checked when it is loaded, against the list
// `tlbscope run --scenario` knows: a typo is one line naming the file, the
// run and the name, not a guest booted to run nothing.
TEST(SuiteTest, UnknownScenarioIsRefusedAtLoad) {
  auto error = [](const std::string& text) {
    absl::StatusOr<Suite> s = ParseSuite(text, "s.toml");
    return s.ok() ? std::string("ok") : std::string(s.status().message());
  };
  EXPECT_THAT(error("[[run]]\nname = \"a\"\nscenario = \"lazy-fre\"\nexpect = \"clean\"\n"),
              HasSubstr("suite s.toml:1: run 'a': scenario 'lazy-fre': no such guest-probe "
                        "scenario (known: selftest, invpcid, "));
  // From [defaults] too, named by the run that uses it.
  EXPECT_THAT(error("[defaults]\nscenario = \"nope\"\n[[run]]\nname = \"b\"\n"
                    "expect = \"clean\"\n"),
              HasSubstr("suite s.toml:3: run 'b': scenario 'nope': no such guest-probe scenario"));
  EXPECT_THAT(error("[[run]]\nname = \"c\"\nscenario = \"munmap-storm\"\nvariant = \"bug\"\n"
                    "expect = \"clean\"\n"),
              HasSubstr("suite s.toml:1: run 'c': variant \"bug\": scenario 'munmap-storm' has no "
                        "bug variant (these have: lazy-free, "));
  for (const std::string& name : GuestProbeScenarios()) {
    EXPECT_EQ(error("[[run]]\nname = \"a\"\nexpect = \"clean\"\nscenario = \"" + name + "\"\n"),
              "ok");
  }
}

TEST(SuiteTest, HoldKeyBecomesRunHoldAndIsCheckedAtLoad) {
  absl::StatusOr<Suite> s = ParseSuite(
      "[defaults]\nhold = \"1:f,release=0:g%return,timeout=2s\"\n"
      "[[run]]\nname = \"a\"\nsmp = [2, 4]\nexpect = \"clean\"\n"
      "[[run]]\nname = \"b\"\nhold = [\"3:f,release=0:g\", \"0:h,release=1:i\"]\nsmp = 4\n"
      "expect = \"clean\"\n",
      "s.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->runs.size(), 3u);
  EXPECT_EQ(s->runs[0].holds, std::vector<std::string>{"1:f,release=0:g%return,timeout=2s"});
  EXPECT_EQ(s->runs[2].holds, (std::vector<std::string>{"3:f,release=0:g", "0:h,release=1:i"}));
  RunnerOptions o;
  o.default_kernel = "/k.elf";
  std::vector<std::string> args = RunArgs(s->runs[2], o, "/out/b");
  auto at = std::find(args.begin(), args.end(), "--hold");
  ASSERT_NE(at, args.end());
  EXPECT_EQ(*(at + 1), "3:f,release=0:g");
  EXPECT_EQ(*(at + 3), "0:h,release=1:i");

  auto error = [](const std::string& text) {
    absl::StatusOr<Suite> r = ParseSuite(text, "s.toml");
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  EXPECT_EQ(error("[[run]]\nname = \"a\"\nhold = \"1:f\"\nexpect = \"clean\"\n"),
            "suite s.toml:3: --hold 1:f: release=VCPU:SITE is missing: what ends the hold?");
  EXPECT_EQ(error("[[run]]\nname = \"a\"\nhold = 3\nexpect = \"clean\"\n"),
            "suite s.toml:3: 'hold' must be a --hold spec or a list of them");
  // vCPU 3 exists at smp 4, not at smp 2: the smp-2 run is refused.
  EXPECT_EQ(error("[[run]]\nname = \"a\"\nsmp = [4, 2]\nhold = \"3:f,release=0:g\"\n"
                  "expect = \"clean\"\n"),
            "suite s.toml:1: run 'a-smp2': --hold 3:f,release=0:g: vCPU 3 does not exist (the "
            "guest has 2)");
}

// suites/linux-seeds.toml: each seed is a stock run (clean) and a run of its
// variant expecting invariants; every variant named exists in the tree.
TEST(SuiteTest, TheShippedSeedSuitePairsEachVariantWithTheStockKernel) {
  absl::StatusOr<Suite> s =
      LoadSuite(std::string(TLBSCOPE_SOURCE_DIR) + "/suites/linux-seeds.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  std::map<std::string, int> stock_workloads;
  for (const RunSpec& r : s->runs) {
    EXPECT_FALSE(r.workload.empty()) << r.name;
    if (r.linux_variant.empty()) {
      EXPECT_TRUE(r.expect_clean) << r.name;
      ++stock_workloads[r.workload];
      continue;
    }
    EXPECT_FALSE(r.expect_clean) << r.name;
    EXPECT_TRUE(std::filesystem::is_directory(std::string(TLBSCOPE_SOURCE_DIR) +
                                              "/guest-linux/patches/variants/" + r.linux_variant))
        << r.linux_variant;
    EXPECT_EQ(stock_workloads[r.workload], 1) << r.name << ": no stock run of " << r.workload;
  }
}

TEST(SuiteTest, TheShippedDefaultSuiteCoversEveryScenarioAtSmp2And4) {
  absl::StatusOr<Suite> s = LoadSuite(std::string(TLBSCOPE_SOURCE_DIR) + "/suites/default.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  int bug = 0, clean = 0;
  std::set<std::string> scenarios;
  for (const RunSpec& r : s->runs) {
    EXPECT_TRUE(r.smp == 2 || r.smp == 4) << r.name;
    scenarios.insert(r.scenario);
    if (r.variant == "bug") {
      ++bug;
      EXPECT_FALSE(r.expect_clean) << r.name;
    } else {
      ++clean;
      EXPECT_TRUE(r.expect_clean) << r.name;
    }
  }
  EXPECT_EQ(scenarios.size(), 9u);
  EXPECT_EQ(bug, 10);
  EXPECT_EQ(clean, 18);
}

RunVerdict Verdict(const std::string& name, bool passed, const std::string& reason) {
  RunVerdict v;
  v.spec.name = name;
  v.spec.expect_clean = false;
  v.spec.expect_violations = {"lam-mismatch"};
  v.passed = passed;
  v.reason = reason;
  v.observed_text = passed ? "lam-mismatch" : "clean";
  v.trace_path = "/out/" + name + "/trace";
  v.seconds = 1.5;
  v.measured.set_name(name);
  (*v.measured.mutable_counts())["ipi_sent"] = 20;
  (*v.measured.mutable_counts())["flush_request"] = 10;
  v.measured.set_ack_latency_p50_ns(200000);
  return v;
}

TEST(JunitTest, OneTestcasePerRunAndFailuresSayWhy) {
  std::string path = ::testing::TempDir() + "/junit_" + std::to_string(getpid()) + ".xml";
  std::vector<RunVerdict> runs = {Verdict("ok <&> run", true, ""),
                                  Verdict("bad", false, "expected lam-mismatch, observed clean")};
  ASSERT_TRUE(WriteJunit(path, "demo", runs).ok());
  xmlDocPtr doc = xmlReadFile(path.c_str(), nullptr, XML_PARSE_NONET);
  ASSERT_NE(doc, nullptr) << "well-formed XML";
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  auto count = [&](const char* xpath) {
    xmlXPathObjectPtr o = xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(xpath), ctx);
    int n = o && o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
  };
  EXPECT_EQ(count("/testsuites/testsuite[@name='demo' and @tests='2' and @failures='1']"), 1);
  EXPECT_EQ(count("//testcase"), 2);
  EXPECT_EQ(count("//testcase[@name='ok <&> run']/failure"), 0);
  EXPECT_EQ(count("//testcase[@name='bad']/failure[contains(@message, 'expected lam-mismatch, "
                  "observed clean') and contains(@message, '/out/bad/trace')]"),
            1);
  xmlXPathFreeContext(ctx);
  xmlFreeDoc(doc);
  EXPECT_THAT(SummaryTable(runs), HasSubstr("1 of 2 runs matched their expected verdict"));
  ::unlink(path.c_str());
  EXPECT_FALSE(WriteJunit("/nonexistent/dir/j.xml", "demo", runs).ok());
}

TEST(BaselineTest, RoundTripsAndCatchesADoubling) {
  std::string path = ::testing::TempDir() + "/baseline_" + std::to_string(getpid()) + ".json";
  std::vector<RunVerdict> runs = {Verdict("a", true, "")};
  ASSERT_TRUE(WriteBaseline(path, "demo", runs).ok());
  absl::StatusOr<v1::RegressBaseline> b = ReadBaseline(path);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->runs_size(), 1);
  EXPECT_EQ(b->runs(0).counts().at("ipi_sent"), 20u);

  Tolerance tol;
  std::vector<RunVerdict> same = {Verdict("a", true, "")};
  (*same[0].measured.mutable_counts())["ipi_sent"] = 23;  // within 25% + 4
  EXPECT_EQ(CompareToBaseline(*b, tol, &same), 0);
  EXPECT_TRUE(same[0].passed);

  std::vector<RunVerdict> doubled = {Verdict("a", true, "")};
  (*doubled[0].measured.mutable_counts())["ipi_sent"] = 40;
  doubled[0].measured.set_ack_latency_p50_ns(2000000);  // 10x
  EXPECT_EQ(CompareToBaseline(*b, tol, &doubled), 1);
  EXPECT_FALSE(doubled[0].passed);
  EXPECT_THAT(doubled[0].reason, HasSubstr("ipi_sent 20 -> 40 (+100%)"));
  EXPECT_THAT(doubled[0].reason, HasSubstr("shootdown p50 200000 -> 2000000 ns"));

  std::vector<RunVerdict> gone = {Verdict("a", true, "")};
  gone[0].measured.mutable_counts()->erase("flush_request");
  EXPECT_EQ(CompareToBaseline(*b, tol, &gone), 1);
  EXPECT_THAT(gone[0].reason, HasSubstr("flush_request 10 -> 0"));

  {
    std::ofstream bad(path);
    bad << "{ not json";
  }
  absl::StatusOr<v1::RegressBaseline> broken = ReadBaseline(path);
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("not a baseline"));
  ::unlink(path.c_str());
}

// A stand-in for tlbscope: a shell script.
std::string FakeTlbscope(const std::string& name, const std::string& body) {
  std::string path = ::testing::TempDir() + "/" + name + "_" + std::to_string(getpid()) + ".sh";
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(RunnerTest, AHungTlbscopeIsKilledAndAQuietDeathIsAFailure) {
  absl::StatusOr<Suite> s =
      ParseSuite("[[run]]\nname = \"a\"\ntimeout = 0.2\nexpect = \"clean\"\n", "s.toml");
  ASSERT_TRUE(s.ok());
  RunnerOptions o;
  o.out_dir = ::testing::TempDir() + "/runner_" + std::to_string(getpid());
  o.progress = false;
  o.kill_grace_s = 0.3;
  o.tlbscope = FakeTlbscope("hang", "exec sleep 30");
  std::vector<RunVerdict> v = RunSuite(*s, o);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].passed);
  EXPECT_THAT(v[0].reason, HasSubstr("hung: tlbscope still running"));
  EXPECT_THAT(v[0].reason, HasSubstr("killed"));
  EXPECT_LT(v[0].seconds, 10);

  o.tlbscope = FakeTlbscope("die", "echo 'tlbscope: error: out of luck' >&2; exit 5");
  v = RunSuite(*s, o);
  EXPECT_FALSE(v[0].passed);
  EXPECT_EQ(v[0].reason,
            "tlbscope exited with status 5 and wrote no results: tlbscope: error: out of luck");
  std::filesystem::remove_all(o.out_dir);
}

}  // namespace
}  // namespace tlbscope::regress
