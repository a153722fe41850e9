// guest-linux's side of tlbscope: the tlbwork console lines (parsed into the
// run's results) and `run --linux` option resolution. No KVM.

#include "vmm/cli/linux_guest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "regress/runner.h"
#include "regress/suite.h"
#include "tlbscope/v1/run_result.pb.h"
#include "vmm/cli/linux_console.h"
#include "vmm/cli/run_command.h"

namespace tlbscope {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// What the console of a 2-vCPU munmap run looks like, kernel lines included.
constexpr const char* kTranscript =
    "[    0.000000] Linux version 6.12.118 (root@host) #1 SMP\n"
    "PASS early: printed before tlbwork started, not ours\n"
    "TLBWORK init: guest uptime 14.403 s, 2 CPUs online\n"
    "TLBWORK start munmap: munmap storm across threads on every CPU, 20 iterations, seed 1, 2 "
    "CPUs\n"
    "PASS munmap: 2 threads x 20 mmap/write/munmap of 1..48 pages, 0 failed, 0 bad reads\n"
    "[   20.1] random: crng init done\n"
    "FAIL munmap-remote-flush: nr_tlb_remote_flush +0, TLB IPIs +0 on 2 CPUs\r\n"
    "TLBWORK done munmap FAIL 6.250 s\n"
    "TLBWORK counter vmstat nr_tlb_remote_flush 1210\n"
    "TLBWORK counter vmstat nr_tlb_remote_flush_received 858\n"
    "TLBWORK counter interrupts CAL 12 30\n"
    "TLBWORK counter interrupts TLB 244 598\n"
    "TLBWORK exit 1\n";

TEST(LinuxConsoleTest, ParsesWorkloadsCountersAndChecks) {
  LinuxConsoleReport r = ParseLinuxConsole(kTranscript);
  ASSERT_TRUE(r.seen);
  ASSERT_EQ(r.workloads.size(), 1u);
  EXPECT_EQ(r.workloads[0].name, "munmap");
  EXPECT_FALSE(r.workloads[0].passed);
  EXPECT_DOUBLE_EQ(r.workloads[0].seconds, 6.25);
  ASSERT_EQ(r.checks.size(), 2u);  // the PASS before "TLBWORK init" is not tlbwork's
  EXPECT_EQ(r.checks[0].name, "munmap");
  EXPECT_TRUE(r.checks[0].passed);
  EXPECT_EQ(r.checks[1].name, "munmap-remote-flush");
  EXPECT_FALSE(r.checks[1].passed);
  EXPECT_EQ(r.passed(), 1);
  EXPECT_EQ(r.failed(), 1);
  const LinuxCounter* tlb = r.Find("interrupts", "TLB");
  ASSERT_NE(tlb, nullptr);
  EXPECT_THAT(tlb->values, ElementsAre(244u, 598u));
  EXPECT_EQ(tlb->total(), 842u);
  ASSERT_NE(r.Find("vmstat", "nr_tlb_remote_flush"), nullptr);
  EXPECT_EQ(r.Find("vmstat", "nr_tlb_remote_flush")->total(), 1210u);
  EXPECT_EQ(r.Find("vmstat", "nr_tlb_local_flush_one"), nullptr);
  EXPECT_EQ(r.exit_status, 1);
}

TEST(LinuxConsoleTest, FillsRunResult) {
  v1::RunResult pb;
  pb.set_checks_passed(3);  // e.g. from the probe channel
  AddLinuxReport(ParseLinuxConsole(kTranscript), &pb);
  ASSERT_EQ(pb.linux_workloads_size(), 1);
  EXPECT_EQ(pb.linux_workloads(0).name(), "munmap");
  ASSERT_EQ(pb.linux_counters_size(), 4);
  EXPECT_EQ(pb.linux_counters(3).name(), "TLB");
  EXPECT_EQ(pb.linux_counters(3).per_cpu_size(), 2);
  EXPECT_EQ(pb.linux_counters(3).total(), 842u);
  EXPECT_EQ(pb.checks_size(), 2);
  EXPECT_EQ(pb.checks_passed(), 4u);
  EXPECT_EQ(pb.checks_failed(), 1u);
}

TEST(LinuxConsoleTest, NothingWithoutTlbwork) {
  LinuxConsoleReport r = ParseLinuxConsole("PASS boot: guest-probe\nFAIL x: y\n");
  EXPECT_FALSE(r.seen);
  EXPECT_TRUE(r.checks.empty());
  v1::RunResult pb;
  AddLinuxReport(r, &pb);
  EXPECT_EQ(pb.checks_size(), 0);
}

TEST(LinuxConsoleTest, MalformedAndHostileLinesAreSkippedOrBounded) {
  std::string s = "TLBWORK init: x\n";
  s += "TLBWORK counter vmstat nr_tlb_x notanumber\n";
  s += "TLBWORK counter vmstat nr_tlb_y 1 2\n";  // vmstat has one value
  s += "TLBWORK counter bogus TLB 1\n";
  s += "TLBWORK counter interrupts bad/name 1\n";
  s += "TLBWORK counter interrupts TLB 99999999999999999999999\n";  // overflows
  s += "TLBWORK done munmap MAYBE 1 s\n";
  s += "TLBWORK done " + std::string(100, 'a') + " PASS 1 s\n";
  s += "PASS no colon here\n";
  s += "TLBWORK exit x\n";
  for (int i = 0; i < 5000; ++i) s += "TLBWORK counter vmstat n" + std::to_string(i) + " 1\n";
  for (int i = 0; i < 5000; ++i)
    s += "PASS c" + std::to_string(i) + ": " + std::string(900, 'd') + "\n";
  std::string values = "TLBWORK counter interrupts CAL";
  for (int i = 0; i < 500; ++i) values += " 1";
  s += values + "\n";
  LinuxConsoleReport r = ParseLinuxConsole(s);
  EXPECT_TRUE(r.workloads.empty());
  EXPECT_EQ(r.exit_status, -1);
  EXPECT_EQ(r.Find("vmstat", "nr_tlb_x"), nullptr);
  EXPECT_EQ(r.Find("vmstat", "nr_tlb_y"), nullptr);
  EXPECT_EQ(r.Find("interrupts", "TLB"), nullptr);
  EXPECT_EQ(r.counters.size(), 256u);
  EXPECT_EQ(r.checks.size(), 1024u);
  EXPECT_LE(r.checks[0].detail.size(), 512u);
}

class LinuxRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tlbscope-linux-run-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "kernel");
    std::ofstream(dir_ / "kernel" / "bzImage") << "not really a kernel";
    std::ofstream(dir_ / "tlbwork.cpio") << "not really a cpio";
    ::setenv("TLBSCOPE_LINUX_CACHE", dir_.c_str(), 1);
    ::setenv("TLBSCOPE_TLBWORK_CPIO", (dir_ / "tlbwork.cpio").c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("TLBSCOPE_LINUX_CACHE");
    ::unsetenv("TLBSCOPE_TLBWORK_CPIO");
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
};

TEST_F(LinuxRunTest, LinuxFillsKernelInitrdCmdlineAndSmp) {
  absl::StatusOr<RunOptions> o =
      ParseRunArgs({"--linux", "--workload", "lazy", "--iterations", "5", "--seed", "7"}, "probe");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.kernel_path, (dir_ / "kernel" / "bzImage").string());
  EXPECT_EQ(o->machine.initrd_path, (dir_ / "tlbwork.cpio").string());
  EXPECT_EQ(o->machine.cmdline, "console=ttyS0 tlbwork=lazy tlbiters=5 tlbseed=7");
  EXPECT_EQ(o->machine.smp, 2);
}

// The test kernel's own System.map and BTF go to the Linux probes; a
// kernel of one's own gets neither, and the options set them.
TEST_F(LinuxRunTest, ProbesGetTheTestKernelsSystemMapAndBtf) {
  absl::StatusOr<RunOptions> o = ParseRunArgs({"--linux"}, "probe");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->machine.linux_probes);
  EXPECT_EQ(o->machine.system_map, "");  // absent beside this bzImage
  std::ofstream(dir_ / "kernel" / "System.map") << "x";
  std::ofstream(dir_ / "kernel" / "vmlinux.btf") << "x";
  o = ParseRunArgs({"--linux"}, "probe");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.system_map, (dir_ / "kernel" / "System.map").string());
  EXPECT_EQ(o->machine.kernel_btf, (dir_ / "kernel" / "vmlinux.btf").string());
  o = ParseRunArgs({"--linux", "--kernel", "/my/bzImage"}, "probe");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.system_map, "");
  EXPECT_EQ(o->machine.kernel_btf, "");
  o = ParseRunArgs(
      {"--linux", "--system-map", "/my/map", "--kernel-btf", "/my/btf", "--no-linux-probes"},
      "probe");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.system_map, "/my/map");
  EXPECT_EQ(o->machine.kernel_btf, "/my/btf");
  EXPECT_FALSE(o->machine.linux_probes);
}

// --linux-variant boots a seed variant's kernel with its own System.map and
// BTF (build-kernel.sh puts them in kernel-NAME beside the stock kernel's).
TEST_F(LinuxRunTest, AVariantBootsItsOwnKernelAndKnowledge) {
  std::filesystem::path v = dir_ / "kernel-seed-000-lazy-free";
  std::filesystem::create_directories(v);
  for (const char* f : {"bzImage", "System.map", "vmlinux.btf"}) std::ofstream(v / f) << "x";
  absl::StatusOr<RunOptions> o =
      ParseRunArgs({"--linux-variant", "seed-000-lazy-free", "--workload", "lazyfree"}, "probe");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.kernel_path, (v / "bzImage").string());
  EXPECT_EQ(o->machine.system_map, (v / "System.map").string());
  EXPECT_EQ(o->machine.kernel_btf, (v / "vmlinux.btf").string());
  EXPECT_EQ(o->machine.cmdline, "console=ttyS0 tlbwork=lazyfree");
  auto error = [](std::vector<std::string> args) {
    absl::StatusOr<RunOptions> r = ParseRunArgs(args, "probe");
    return r.ok() ? std::string("accepted") : std::string(r.status().message());
  };
  EXPECT_THAT(error({"--linux-variant", "seed-004-unlazy-sync"}),
              HasSubstr("TLBSCOPE_LINUX_VARIANT=seed-004-unlazy-sync guest-linux/build-kernel.sh"));
  for (const char* bad : {"../kernel", "seed-0-x", "seed-000-../../x", "seed-000-A"}) {
    EXPECT_THAT(error({"--linux-variant", bad}), HasSubstr("not a variant name")) << bad;
  }
  EXPECT_THAT(error({"--linux-variant", "seed-000-lazy-free", "--kernel", "/my/bzImage"}),
              HasSubstr("not with --kernel"));
}

TEST_F(LinuxRunTest, OwnKernelInitrdAndCmdlineAreKept) {
  absl::StatusOr<RunOptions> o =
      ParseRunArgs({"--workload", "fork", "--kernel", "/my/bzImage", "--initrd", "/my/initrd",
                    "--cmdline", "console=ttyS0,115200 quiet", "--smp", "4"},
                   "probe");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->machine.kernel_path, "/my/bzImage");
  EXPECT_EQ(o->machine.initrd_path, "/my/initrd");
  EXPECT_EQ(o->machine.cmdline, "console=ttyS0,115200 quiet tlbwork=fork");
  EXPECT_EQ(o->machine.smp, 4);
}

TEST_F(LinuxRunTest, BadInputIsOneLine) {
  auto error = [](std::vector<std::string> args) {
    absl::StatusOr<RunOptions> o = ParseRunArgs(args, "probe");
    return o.ok() ? std::string("accepted") : std::string(o.status().message());
  };
  EXPECT_THAT(error({"--workload", "bogus"}), HasSubstr("--workload 'bogus': unknown (one of all"));
  EXPECT_THAT(error({"--linux", "--iterations", "0"}), HasSubstr("--iterations '0'"));
  EXPECT_THAT(error({"--linux", "--iterations", "x"}), HasSubstr("--iterations 'x'"));
  EXPECT_THAT(error({"--linux", "--scenario", "lazy-free"}), HasSubstr("--scenario"));
  EXPECT_THAT(error({"--workload", "fork", "--cmdline", "tlbwork=lazy"}),
              HasSubstr("--cmdline already sets tlbwork="));
  std::filesystem::remove(dir_ / "kernel" / "bzImage");
  EXPECT_THAT(error({"--linux"}), HasSubstr("no test kernel at " + dir_.string()));
  EXPECT_THAT(error({"--linux"}), HasSubstr("guest-linux/build-kernel.sh"));
  EXPECT_EQ(error({"--linux", "--kernel", "/my/bzImage"}), "accepted");
  std::filesystem::remove(dir_ / "tlbwork.cpio");
  EXPECT_THAT(error({"--linux", "--kernel", "/my/bzImage"}), HasSubstr("no workload initramfs"));
}

// The guest's list (guest-linux/workload/main.c) and the host's agree: the
// built tlbwork, run by hand with a bad name, prints its own list.
TEST(LinuxWorkloadNamesTest, MatchTheGuestsList) {
  std::string exe = TLBWORK_BIN;
  std::string cmd = exe + " no-such-workload 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  int status = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 2) << out;
  std::string want = "workloads:";
  for (const std::string& n : LinuxWorkloadNames()) want += " " + n;
  EXPECT_THAT(out, HasSubstr(want + ";")) << out;
}

// A suite run with `workload` boots the guest-linux kernel through
// `run --workload` unless it names its own kernel.
TEST(LinuxSuiteTest, WorkloadRunsUseRunWorkload) {
  absl::StatusOr<regress::Suite> s = regress::ParseSuite(
      "[defaults]\nsmp = 2\nmem = 128\n"
      "[[run]]\nname = \"a\"\nworkload = \"munmap\"\nexpect = \"clean\"\n"
      "[[run]]\nname = \"b\"\nworkload = \"lazy\"\nkernel = \"/my/bzImage\"\n"
      "expect = \"clean\"\n"
      "[[run]]\nname = \"c\"\nworkload = \"lazyfree\"\nlinux_variant = \"seed-000-lazy-free\"\n"
      "expect = [\"table-freed-while-walkable\"]\n",
      "/x/linux.toml");
  ASSERT_TRUE(s.ok()) << s.status();
  regress::RunnerOptions o;
  o.default_kernel = "/probe.elf";
  auto joined = [&](const regress::RunSpec& r) {
    std::string all;
    for (const std::string& x : regress::RunArgs(r, o, "/out")) all += x + " ";
    return all;
  };
  EXPECT_THAT(joined(s->runs[0]), HasSubstr("run --workload munmap --smp 2 --mem 128 "));
  EXPECT_THAT(joined(s->runs[0]), ::testing::Not(HasSubstr("--kernel")));
  EXPECT_THAT(joined(s->runs[1]), HasSubstr("run --workload lazy --kernel /my/bzImage "));
  EXPECT_THAT(joined(s->runs[2]),
              HasSubstr("run --workload lazyfree --linux-variant seed-000-lazy-free --smp 2 "));
  EXPECT_THAT(joined(s->runs[2]), ::testing::Not(HasSubstr("--kernel")));
}

}  // namespace
}  // namespace tlbscope
