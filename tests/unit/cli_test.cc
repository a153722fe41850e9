#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/scenario_names.h"
#include "vmm/cli/run_command.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

std::string ParseError(const std::vector<std::string>& args) {
  absl::StatusOr<RunOptions> o = ParseRunArgs(args, "/default.elf");
  EXPECT_FALSE(o.ok());
  if (o.ok()) return "";
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(o.status().message());
}

TEST(ParseRunArgsTest, Defaults) {
  absl::StatusOr<RunOptions> o = ParseRunArgs({}, "/default.elf");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->machine.kernel_path, "/default.elf");
  EXPECT_EQ(o->machine.smp, 1);
  EXPECT_EQ(o->machine.mem_mib, 128u);
  EXPECT_EQ(o->machine.boot, BootProtocol::kAuto);
  EXPECT_TRUE(o->machine.serial_to_stdout);
}

TEST(ParseRunArgsTest, AllOptionsBothSpellings) {
  absl::StatusOr<RunOptions> o =
      ParseRunArgs({"--smp=4", "--mem", "256", "--kernel", "/k", "--boot=multiboot", "--cmdline",
                    "scenario=hang x", "--timeout", "2.5", "--serial-log=/tmp/s.log", "--quiet",
                    "--results", "/tmp/r.json"},
                   "/default.elf");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.smp, 4);
  EXPECT_EQ(o->machine.mem_mib, 256u);
  EXPECT_EQ(o->machine.kernel_path, "/k");
  EXPECT_EQ(o->machine.boot, BootProtocol::kMultiboot);
  EXPECT_EQ(o->machine.cmdline, "scenario=hang x");
  EXPECT_DOUBLE_EQ(o->machine.timeout_s, 2.5);
  EXPECT_EQ(o->machine.serial_log, "/tmp/s.log");
  EXPECT_FALSE(o->machine.serial_to_stdout);
  EXPECT_EQ(o->results_path, "/tmp/r.json");
}

TEST(ParseRunArgsTest, ScenarioOptionsBecomeTheCmdline) {
  absl::StatusOr<RunOptions> o =
      ParseRunArgs({"--cmdline", "x=1", "--scenario", "lazy-free", "--inject-bug", "--seed", "7"},
                   "/default.elf");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.cmdline, "x=1 scenario=lazy-free variant=bug seed=7");
  EXPECT_EQ(o->machine.smp, 2) << "--scenario without --smp: 2 CPUs";
  o = ParseRunArgs({"--scenario=many-mms", "--smp", "4"}, "/default.elf");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.cmdline, "scenario=many-mms");
  EXPECT_EQ(o->machine.smp, 4);
  o = ParseRunArgs({"--seed", "3"}, "/default.elf");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.cmdline, "seed=3");
  EXPECT_EQ(o->machine.smp, 1);
}

TEST(ParseRunArgsTest, ScenarioOptionErrors) {
  EXPECT_EQ(ParseError({"--inject-bug"}), "--inject-bug needs --scenario NAME");
  EXPECT_THAT(ParseError({"--scenario", "Lazy_Free"}),
              HasSubstr("--scenario 'Lazy_Free': a name is lowercase letters, digits and '-'"));
  EXPECT_THAT(ParseError({"--scenario", "selftest", "--cmdline", "scenario=b"}),
              HasSubstr("--cmdline already sets scenario=; give it there or with the option"));
  EXPECT_THAT(ParseError({"--seed", "-1"}), HasSubstr("--seed"));
  EXPECT_THAT(ParseError({"--scenario"}), HasSubstr("--scenario needs a value"));
}

// An unknown --scenario (or a bug variant a scenario lacks) is bad input,
// refused before anything boots; every name guest-probe knows is accepted.
TEST(ParseRunArgsTest, UnknownScenarioOrBugVariantIsRefused) {
  EXPECT_THAT(ParseError({"--scenario", "no-such-scenario"}),
              HasSubstr("--scenario 'no-such-scenario': no such guest-probe scenario (known: "
                        "selftest, invpcid, "));
  EXPECT_THAT(ParseError({"--scenario", "munmap-storm", "--inject-bug"}),
              HasSubstr("--inject-bug: scenario 'munmap-storm' has no bug variant (these have: "
                        "lazy-free, async-flush, lam-lazy, nested-gather, unlazy-sync)"));
  ASSERT_EQ(GuestProbeScenarios().size(), 19u);
  for (const std::string& name : GuestProbeScenarios()) {
    EXPECT_TRUE(ParseRunArgs({"--scenario", name}, "/default.elf").ok()) << name;
  }
}

TEST(ParseRunArgsTest, SmpRange) {
  EXPECT_THAT(ParseError({"--smp", "0"}), HasSubstr("--smp must be between 1 and 64 (got 0)"));
  EXPECT_THAT(ParseError({"--smp", "65"}), HasSubstr("(got 65)"));
  EXPECT_THAT(ParseError({"--smp", "-3"}), HasSubstr("(got -3)"));
  EXPECT_TRUE(ParseRunArgs({"--smp", "64"}, "/k").ok());
}

TEST(ParseRunArgsTest, MemRange) {
  EXPECT_THAT(ParseError({"--mem", "1"}),
              HasSubstr("--mem must be between 2 and 3072 MiB (got 1)"));
  EXPECT_THAT(ParseError({"--mem", "4096"}), HasSubstr("(got 4096)"));
}

TEST(ParseRunArgsTest, NotNumbers) {
  EXPECT_THAT(ParseError({"--smp", "four"}), HasSubstr("--smp: 'four' is not a valid number"));
  EXPECT_THAT(ParseError({"--mem", "12x"}), HasSubstr("'12x'"));
  EXPECT_THAT(ParseError({"--timeout", ""}), HasSubstr("--timeout"));
}

TEST(ParseRunArgsTest, NegativeTimeout) {
  EXPECT_THAT(ParseError({"--timeout", "-1"}), HasSubstr("--timeout must be >= 0"));
  for (const char* t : {"inf", "1e10", "nan", "-nan"}) {
    EXPECT_THAT(ParseError({"--timeout", t}), HasSubstr("--timeout must be >= 0 and at most")) << t;
  }
}

TEST(ParseRunArgsTest, UnknownOptionAndMissingValue) {
  EXPECT_THAT(ParseError({"--frobnicate"}), HasSubstr("unknown option '--frobnicate'"));
  EXPECT_THAT(ParseError({"--kernel"}), HasSubstr("--kernel needs a value"));
  EXPECT_THAT(ParseError({"--boot", "bios"}),
              HasSubstr("--boot must be auto, pvh, multiboot or linux"));
}

}  // namespace
}  // namespace tlbscope

namespace tlbscope {
namespace {

TEST(ParseRunArgsTest, HoldIsRepeatableAndCheckedAgainstTheVcpus) {
  absl::StatusOr<RunOptions> o =
      ParseRunArgs({"--smp", "2", "--hold", "1:flush_tlb_func,release=0:tlb_finish_mmu%return",
                    "--hold=0:f,release=1:g,timeout=1s", "--kernel", "/k"},
                   "/default.elf");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.holds,
            (std::vector<std::string>{"1:flush_tlb_func,release=0:tlb_finish_mmu%return",
                                      "0:f,release=1:g,timeout=1s"}));
  EXPECT_EQ(o->machine.kernel_path, "/k");
  o = ParseRunArgs({"--hold", "2:f,release=0:g", "--smp", "2"}, "/default.elf");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(),
            "--hold 2:f,release=0:g: vCPU 2 does not exist (the guest has 2)");
  o = ParseRunArgs({"--hold", "1:f,release=0:g", "--smp", "2", "--no-trap"}, "/default.elf");
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("--hold needs the trap engine"));
}

}  // namespace
}  // namespace tlbscope
