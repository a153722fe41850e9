// `run --require FEATURE` and a suite's `requires` (issue 15, seed 002: LAM
// needs a CPU with it): the names, what a host without the feature says,
// and a run skipped that way -- status 77, results saying why -- which
// regress reports as skipped (JUnit <skipped>), not failed. No KVM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/cpu_features.h"
#include "regress/junit.h"
#include "regress/report.h"
#include "regress/runner.h"
#include "regress/suite.h"
#include "vmm/cli/requirements.h"
#include "vmm/cli/run_command.h"

namespace tlbscope {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RequireTest, EveryKnownFeatureIsOneTheHostProbeReports) {
  HostCaps none;
  for (const CpuFeature& f : CpuFeatures()) {
    EXPECT_EQ(HostOffers(none, f.name), false) << f.name;
  }
  EXPECT_EQ(HostOffers(none, "avx512"), std::nullopt);
}

TEST(RequireTest, AHostWithoutTheFeatureSaysWhichAndWhere) {
  HostCaps caps;
  caps.kvm_module = "kvm_pvm";
  caps.cpuid_pcid = true;
  EXPECT_EQ(MissingFeature(caps, {"pcid"}), std::nullopt);
  EXPECT_EQ(MissingFeature(caps, {}), std::nullopt);
  std::optional<std::string> lam = MissingFeature(caps, {"pcid", "lam"});
  ASSERT_TRUE(lam.has_value());
  EXPECT_EQ(*lam,
            "this host's KVM (kvm_pvm) offers no LAM (linear address masking) to a guest "
            "(CPUID.(EAX=7,ECX=1):EAX[26]); the run needs it (--require lam)");
  caps.cpuid_lam = true;
  EXPECT_EQ(MissingFeature(caps, {"pcid", "lam"}), std::nullopt);
  EXPECT_THAT(WorkloadFeatures("lamlazy"), ElementsAre("lam"));
  EXPECT_TRUE(WorkloadFeatures("munmap").empty());
}

TEST(RequireTest, RunTakesRequireOptionsAndRefusesUnknownNames) {
  absl::StatusOr<RunOptions> o = ParseRunArgs({"--require", "lam", "--require", "pcid"}, "/k.elf");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->required_features, ElementsAre("lam", "pcid"));
  absl::StatusOr<RunOptions> bad = ParseRunArgs({"--require", "lan"}, "/k.elf");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "--require 'lan': unknown CPU feature (one of lam, la57, pcid, invpcid, pge)");
}

TEST(RequireTest, TheLamWorkloadRequiresLam) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tlbscope-require-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "kernel");
  std::ofstream(dir / "kernel" / "bzImage") << "not really a kernel";
  std::ofstream(dir / "tlbwork.cpio") << "not really a cpio";
  ::setenv("TLBSCOPE_LINUX_CACHE", dir.c_str(), 1);
  ::setenv("TLBSCOPE_TLBWORK_CPIO", (dir / "tlbwork.cpio").c_str(), 1);
  absl::StatusOr<RunOptions> o = ParseRunArgs({"--workload", "lamlazy"}, "/k.elf");
  absl::StatusOr<RunOptions> twice =
      ParseRunArgs({"--require", "lam", "--workload", "lamlazy"}, "/k.elf");
  ::unsetenv("TLBSCOPE_LINUX_CACHE");
  ::unsetenv("TLBSCOPE_TLBWORK_CPIO");
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(o->required_features, ElementsAre("lam"));
  EXPECT_THAT(o->machine.cmdline, HasSubstr("tlbwork=lamlazy"));
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_THAT(twice->required_features, ElementsAre("lam"));
}

}  // namespace
}  // namespace tlbscope

namespace tlbscope::regress {
namespace {

using ::testing::HasSubstr;

TEST(SuiteRequiresTest, RequiresBecomesRunRequireAndIsCheckedAtLoad) {
  absl::StatusOr<Suite> s = ParseSuite(
      "[defaults]\nrequires = \"lam\"\n"
      "[[run]]\nname = \"a\"\nexpect = \"clean\"\n"
      "[[run]]\nname = \"b\"\nrequires = [\"pcid\", \"invpcid\"]\nexpect = \"clean\"\n",
      "s.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->runs[0].required_features, std::vector<std::string>{"lam"});
  EXPECT_EQ(s->runs[1].required_features, (std::vector<std::string>{"pcid", "invpcid"}));
  RunnerOptions o;
  o.default_kernel = "/k.elf";
  std::vector<std::string> args = RunArgs(s->runs[1], o, "/out/b");
  auto at = std::find(args.begin(), args.end(), "--require");
  ASSERT_NE(at, args.end());
  EXPECT_EQ(*(at + 1), "pcid");
  EXPECT_EQ(*(at + 3), "invpcid");

  auto error = [](const std::string& text) {
    absl::StatusOr<Suite> r = ParseSuite(text, "s.toml");
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  EXPECT_EQ(error("[[run]]\nname = \"a\"\nrequires = [\"lam\", \"lan\"]\nexpect = \"clean\"\n"),
            "suite s.toml:3: requires 'lan': unknown CPU feature (one of lam, la57, pcid, "
            "invpcid, pge)");
  EXPECT_EQ(error("[[run]]\nname = \"a\"\nrequires = 1\nexpect = \"clean\"\n"),
            "suite s.toml:3: 'requires' must be a CPU feature or a list of them");
}

// A stand-in for tlbscope that skips the way `run --require` does: exit 77
// and results with the reason -- only when it was asked to require lam.
std::string SkippingTlbscope(const std::string& dir, bool says_why) {
  std::string path = dir + "/skipping.sh";
  std::filesystem::create_directories(dir);
  std::ofstream(path) << "#!/bin/sh\n"
                      << "case \"$*\" in *'--require lam'*) ;; *) exit 3 ;; esac\n"
                      << "while [ $# -gt 0 ]; do [ \"$1\" = --results ] && r=$2; shift; done\n"
                      << "printf '{\"stopReason\": \"" << (says_why ? kStopHostLacksFeature : "")
                      << "\", \"stopMessage\": \"no LAM here\", \"exitCode\": 77}' > \"$r\"\n"
                      << "exit 77\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(SkippedRunTest, ARunTheHostCannotRunIsSkippedNotFailed) {
  absl::StatusOr<Suite> s = ParseSuite(
      "[[run]]\nname = \"lam\"\nrequires = \"lam\"\nexpect = [\"lam-mismatch\"]\n", "s.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  std::string dir = ::testing::TempDir() + "/skip_" + std::to_string(getpid());
  RunnerOptions o;
  o.out_dir = dir + "/out";
  o.progress = false;
  o.tlbscope = SkippingTlbscope(dir, /*says_why=*/true);
  std::vector<RunVerdict> v = RunSuite(*s, o);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].skipped);
  EXPECT_FALSE(v[0].passed);
  EXPECT_FALSE(Failed(v[0]));
  EXPECT_EQ(v[0].reason, "skipped: no LAM here");
  EXPECT_EQ(v[0].exit_status, kExitSkipped);
  EXPECT_THAT(SummaryTable(v), HasSubstr("skip"));
  EXPECT_THAT(SummaryTable(v), HasSubstr("0 of 1 runs matched their expected verdict (1 skipped)"));
  // The report keeps it; JUnit says <skipped> with the reason.
  RunVerdict back = FromReport(MakeReport("s", Shard{1, 1, "default"}, {v[0].spec}, v).runs(0));
  EXPECT_TRUE(back.skipped);
  std::string junit = dir + "/junit.xml";
  ASSERT_TRUE(WriteJunit(junit, "s", v).ok());
  std::stringstream xml;
  xml << std::ifstream(junit).rdbuf();
  EXPECT_THAT(xml.str(), HasSubstr("skipped=\"1\""));
  EXPECT_THAT(xml.str(), HasSubstr("failures=\"0\""));
  EXPECT_THAT(xml.str(), HasSubstr("<skipped message=\"skipped: no LAM here\""));

  // Status 77 without the reason in its results is no skip: it is judged
  // as any other unexpected status.
  o.tlbscope = SkippingTlbscope(dir, /*says_why=*/false);
  v = RunSuite(*s, o);
  EXPECT_FALSE(v[0].skipped);
  EXPECT_TRUE(Failed(v[0]));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tlbscope::regress
