// `tlbscope regress` end to end: real guest-probe runs, judged by the
// collectors, reported as JUnit XML and a table, with the exit status CI
// reads.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class RegressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/regress_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
           std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  ProcResult Regress(const std::string& suite, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"regress", suite,   "--out",  dir_ + "/out",
                                     "--junit", junit(), "--jobs", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunTlbscope(args, 300);
  }
  std::string junit() const { return dir_ + "/junit.xml"; }
  std::string dir_;
};

TEST_F(RegressTest, MatchingRunsPassAndKeepTheirFiles) {
  REQUIRE_KVM();
  std::string suite = Write("s.toml", R"(
[[run]]
name = "lam-correct"
scenario = "lam-lazy"
smp = 2
expect = "clean"
[[run]]
name = "lam-bug"
scenario = "lam-lazy"
variant = "bug"
smp = [2, 4]
expect = ["lam-mismatch"]
)");
  ProcResult r = Regress(suite);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("3 of 3 runs matched their expected verdict"));
  EXPECT_THAT(r.out, HasSubstr("lam-bug-smp4"));
  for (const char* run : {"lam-correct", "lam-bug-smp2", "lam-bug-smp4"}) {
    for (const char* f : {"trace", "serial.log", "results.json", "tlbscope.log"}) {
      EXPECT_TRUE(std::filesystem::exists(dir_ + "/out/" + run + "/" + f)) << run << "/" << f;
    }
  }
  EXPECT_THAT(ReadFile(dir_ + "/out/lam-bug-smp2/serial.log"), HasSubstr("FAIL lam_lazy_switch"));
  std::string xml = ReadFile(junit());
  EXPECT_THAT(xml, HasSubstr("tests=\"3\" failures=\"0\""));
  EXPECT_THAT(xml, Not(HasSubstr("<failure")));
}

TEST_F(RegressTest, AWrongExpectationFailsAndSaysExpectedObservedAndTrace) {
  REQUIRE_KVM();
  std::string suite = Write("s.toml", R"(
[[run]]
name = "bug-called-clean"
scenario = "nested-gather"
variant = "bug"
smp = 2
expect = "clean"
[[run]]
name = "wrong-invariant"
scenario = "unlazy-sync"
variant = "bug"
smp = 2
expect = ["lam-mismatch"]
[[run]]
name = "fine"
scenario = "cs-pingpong"
smp = 2
expect = "clean"
)");
  ProcResult r = Regress(suite);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 of 3 runs matched"));
  std::string xml = ReadFile(junit());
  EXPECT_THAT(xml, HasSubstr("tests=\"3\" failures=\"2\""));
  EXPECT_THAT(xml, HasSubstr("message=\"expected clean, observed nested-gather-underflush (trace " +
                             dir_ + "/out/bug-called-clean/trace)\""));
  EXPECT_THAT(xml, HasSubstr("expected lam-mismatch, observed unlazy-without-sync-core"));
}

TEST_F(RegressTest, CrashesAreFailuresTimeoutsErrorsWithTheirReason) {
  REQUIRE_KVM();
  std::string suite = Write("s.toml", R"(
[defaults]
smp = 2
[[run]]
name = "crash"
cmdline = "scenario=crash-pf"
expect = "clean"
[[run]]
name = "hang"
cmdline = "scenario=hang"
timeout = 2
expect = "clean"
[[run]]
name = "assert"
cmdline = "scenario=assert"
expect = "clean"
[[run]]
name = "triple"
cmdline = "scenario=triple-fault"
expect = ["lam-mismatch"]
)");
  ProcResult r = Regress(suite);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 of 4 runs matched"));
  std::string xml = ReadFile(junit());
  // The guest's crashes are wrong verdicts (<failure>); the timeout is a
  // run that could not be judged (<error>).
  EXPECT_THAT(xml, HasSubstr("tests=\"4\" failures=\"3\" errors=\"1\""));
  EXPECT_THAT(xml, HasSubstr("<error message=\"the run ended by timeout"));
  EXPECT_THAT(xml, HasSubstr("type=\"timeout\""));
  EXPECT_THAT(xml, HasSubstr("type=\"triple-fault\""));
  EXPECT_THAT(xml, HasSubstr("the run ended by timeout, not by the guest"));
  EXPECT_THAT(xml, HasSubstr("the run ended by triple-fault, not by the guest"));
  EXPECT_THAT(xml, HasSubstr("the run ended by guest-exception, not by the guest: vcpu 0: guest "
                             "exception #PF"));
  EXPECT_THAT(xml, HasSubstr("the run ended by guest-assert, not by the guest: vcpu 0: guest "
                             "assertion failed at failures.c:"));
}

TEST_F(RegressTest, ARunTakesItsVmFromALibvirtDomain) {
  REQUIRE_KVM();
  Write("probe.xml",
        "<domain type='kvm'><name>probe</name><memory unit='MiB'>48</memory>"
        "<vcpu>2</vcpu><os><type arch='x86_64'>hvm</type><kernel>" +
            GuestProbe() + "</kernel><cmdline>probe=1</cmdline></os></domain>");
  std::string suite = Write("s.toml", R"(
[[run]]
name = "from-domain"
domain = "probe.xml"
scenario = "lazy-free"
variant = "bug"
expect = ["table-freed-while-walkable"]
)");
  ProcResult r = Regress(suite);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string serial = ReadFile(dir_ + "/out/from-domain/serial.log");
  EXPECT_THAT(serial, HasSubstr("2 CPU(s) in the MP table"));
  EXPECT_THAT(serial, HasSubstr("cmdline \"probe=1 scenario=lazy-free variant=bug seed=1\""));

  Write("disk.xml",
        "<domain type='kvm'><name>d</name><memory>65536</memory><vcpu>2</vcpu>"
        "<os><type arch='x86_64'>hvm</type><kernel>/k</kernel></os><devices><disk type='file'>"
        "<source file='/x.img'/><target dev='vda'/></disk></devices></domain>");
  std::string bad = Write("bad.toml",
                          "[[run]]\nname = \"disky\"\ndomain = \"disk.xml\"\n"
                          "expect = \"clean\"\n");
  r = Regress(bad);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("run 'disky': domain "));
  EXPECT_THAT(r.err, HasSubstr("/disk.xml: devices/disk: tlbscope has no such device"));
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
}

TEST_F(RegressTest, ABaselineCatchesTwiceTheIpis) {
  REQUIRE_KVM();
  std::string suite = Write("s.toml", R"(
[[run]]
name = "storm"
scenario = "munmap-storm"
smp = 2
expect = "clean"
)");
  std::string base = dir_ + "/base.json";
  ProcResult r = Regress(suite, {"--write-baseline", base});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string json = ReadFile(base);
  ASSERT_THAT(json, HasSubstr("\"ipi_sent\""));
  r = Regress(suite, {"--baseline", base});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << json;

  // The stored run sent half the IPIs this one does: as if a kernel change
  // doubled the IPIs per munmap.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(json, m, std::regex("\"ipi_sent\": \"(\\d+)\"")));
  uint64_t ipis = std::stoull(m[1]);
  std::string halved = std::regex_replace(json, std::regex("\"ipi_sent\": \"\\d+\""),
                                          "\"ipi_sent\": \"" + std::to_string(ipis / 2) + "\"");
  std::ofstream(base) << halved;
  r = Regress(suite, {"--baseline", base});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("beyond the baseline: ipi_sent " + std::to_string(ipis / 2) + " -> "));
}

TEST_F(RegressTest, BadInputIsOneLineAndStatus2) {
  std::string suite = Write("s.toml", "[[run]]\nname = \"a\"\nexpect = \"clean\"\nsmp = 99\n");
  ProcResult r = Regress(suite);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("tlbscope regress: error: suite " + suite +
                               ":4: 'smp' must be an integer from 1 to 64"));
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  r = RunTlbscope({"regress"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no suite given"));
  // An unknown scenario is refused at load, before any run (no --out made).
  std::string typo = Write("t.toml",
                           "[[run]]\nname = \"a\"\nscenario = \"lazy-fre\"\n"
                           "expect = \"clean\"\n");
  r = Regress(typo);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("tlbscope regress: error: suite " + typo +
                               ":1: run 'a': scenario 'lazy-fre': no such guest-probe scenario"));
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out"));
  r = RunTlbscope({"regress", dir_ + "/none.toml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("suite " + dir_ + "/none.toml"));
  r = RunTlbscope({"regress", suite, "--jobs", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--jobs must be 1 to 64"));
  std::string good = Write("g.toml", "[[run]]\nname = \"a\"\nexpect = \"clean\"\n");
  r = RunTlbscope({"regress", good, "--baseline", dir_ + "/missing.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--baseline " + dir_ + "/missing.json: cannot read"));
  r = RunTlbscope({"regress", good, "--only", "b"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--only b: no such run"));
  r = RunTlbscope({"regress", good, "--out", "/proc/no/such/dir"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("tlbscope regress: error: --out /proc/no/such/dir: "));
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
}

// Without --out the runs go to the user's cache, one folder per suite
// ($XDG_CACHE_HOME/tlbscope/regress/SUITE), never the folder regress was
// started from. Without KVM the run fails, but its folder and the report
// are still written there.
TEST_F(RegressTest, DefaultOutIsTheUsersCacheNotTheCurrentFolder) {
  std::string suite = Write("cached.toml", "[[run]]\nname = \"a\"\nexpect = \"clean\"\n");
  std::string cache = dir_ + "/cache";
  const char* old = std::getenv("XDG_CACHE_HOME");
  std::string saved = old ? old : "";
  ::setenv("XDG_CACHE_HOME", cache.c_str(), 1);
  ProcResult r = RunTlbscope({"regress", suite, "--jobs", "1"}, 300);
  if (old) {
    ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  } else {
    ::unsetenv("XDG_CACHE_HOME");
  }
  std::string out = cache + "/tlbscope/regress/cached";
  EXPECT_THAT(r.err, HasSubstr("output in " + out)) << r.err;
  EXPECT_TRUE(std::filesystem::exists(out + "/report.json")) << r.err;
  EXPECT_TRUE(std::filesystem::is_directory(out + "/a")) << r.err;
  EXPECT_FALSE(std::filesystem::exists("regress-out"));
}

// A run name is one file name below --out: `..`, `../../x` and `a/b` refuse
// the suite before anything is created or removed.
TEST_F(RegressTest, RunNamesThatLeaveOutRefuseTheSuite) {
  std::filesystem::create_directories(dir_ + "/work/out");
  std::ofstream(dir_ + "/work/precious") << "keep\n";
  for (const char* name : {"..", "../../x", "a/b"}) {
    std::string suite =
        Write("n.toml", std::string("[[run]]\nname = \"") + name + "\"\nexpect = \"clean\"\n");
    ProcResult r = RunTlbscope({"regress", suite, "--out", dir_ + "/work/out"});
    EXPECT_EQ(r.exit_code, 2) << name << r.err;
    EXPECT_THAT(r.err, HasSubstr("tlbscope regress: error: suite " + suite + ":1: run name '"))
        << name;
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/work/precious")) << name;
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/x")) << name;
    EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/work/out")) << name;
  }
}

// Reports are checked before any run (the output policy): an unwritable
// --junit or --write-baseline, a device or a symlink, is status 2 and one
// line, with nothing run.
TEST_F(RegressTest, UnwritableReportsAreBadInputBeforeAnyRun) {
  std::string good = Write("g.toml", "[[run]]\nname = \"a\"\nexpect = \"clean\"\n");
  std::string link = dir_ + "/link.xml";
  std::ofstream(dir_ + "/target.xml") << "keep\n";
  std::filesystem::create_symlink(dir_ + "/target.xml", link);
  struct {
    std::vector<std::string> flags;
    std::string error;
  } cases[] = {
      {{"--junit", "/proc/no/j.xml"}, "--junit /proc/no/j.xml: No such file or directory"},
      {{"--write-baseline", "/proc/no/b.json"},
       "--write-baseline /proc/no/b.json: No such file or directory"},
      {{"--junit", "/dev/full"}, "--junit /dev/full: is a character device"},
      {{"--write-baseline", link}, "--write-baseline " + link + ": is a symlink"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"regress", good, "--out", dir_ + "/out"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    ProcResult r = RunTlbscope(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("tlbscope regress: error: " + c.error));
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/a")) << "nothing ran";
  }
  EXPECT_EQ(ReadFile(dir_ + "/target.xml"), "keep\n");
}

}  // namespace
}  // namespace tlbscope::testing

namespace tlbscope::testing {
namespace {

// Three shards of a real suite, merged, are the unsharded run: the same
// testcases in the same order with the same outcome.
TEST_F(RegressTest, ShardsMergeIntoTheUnshardedRun) {
  REQUIRE_KVM();
  std::string suite = Write("s.toml", R"(
[defaults]
smp = 2
[[run]]
name = "lam-correct"
scenario = "lam-lazy"
expect = "clean"
[[run]]
name = "lam-bug"
scenario = "lam-lazy"
variant = "bug"
expect = ["lam-mismatch"]
[[run]]
name = "called-clean"
scenario = "nested-gather"
variant = "bug"
expect = "clean"
[[run]]
name = "hang"
cmdline = "scenario=hang"
timeout = 2
expect = "clean"
)");
  ProcResult whole = Regress(suite);
  EXPECT_EQ(whole.exit_code, 1) << whole.out << whole.err;
  std::vector<std::string> outs;
  for (int k = 1; k <= 3; ++k) {
    std::string out = dir_ + "/out" + std::to_string(k);
    ProcResult r = RunTlbscope(
        {"regress", suite, "--out", out, "--shard", std::to_string(k) + "/3", "--jobs", "2"}, 300);
    EXPECT_THAT(r.err, HasSubstr(absl::StrFormat("(shard %d/3 of 4, from --shard)", k)));
    outs.push_back(out);
  }
  std::string merged = dir_ + "/merged.xml";
  std::vector<std::string> args = {"regress", "merge",   outs[2], outs[0],
                                   outs[1],   "--junit", merged};
  ProcResult m = RunTlbscope(args, 60);
  EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
  // Testcases: name, and which of failure / error, in order.
  auto cases = [](const std::string& xml) {
    std::regex re("<testcase name=\"([^\"]+)\"[^>]*>\\s*(<(failure|error) )?");
    std::string out;
    for (auto it = std::sregex_iterator(xml.begin(), xml.end(), re); it != std::sregex_iterator();
         ++it) {
      out += (*it)[1].str() + ":" + ((*it)[3].matched ? (*it)[3].str() : "pass") + "\n";
    }
    return out;
  };
  std::string want = cases(ReadFile(junit()));
  EXPECT_EQ(want, "lam-correct:pass\nlam-bug:pass\ncalled-clean:failure\nhang:error\n");
  EXPECT_EQ(cases(ReadFile(merged)), want);
  EXPECT_THAT(m.out, HasSubstr("2 of 4 runs matched their expected verdict"));
}

}  // namespace
}  // namespace tlbscope::testing
