// Boot real guests on /dev/kvm: the handmade loader kernels and guest-probe.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(BootTest, PvhKernelGetsStartInfoAndCmdline) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope(
      {"run", "--kernel", TestKernel("pvh_hello.elf"), "--cmdline", "hello from the pvh cmdline"});
  EXPECT_EQ(r.exit_code, 43) << r.err;  // 98 would mean EBX had no start_info
  EXPECT_EQ(r.out, "hello from the pvh cmdline\n");
  EXPECT_THAT(r.err, HasSubstr("guest exited with code 43"));
  EXPECT_THAT(r.err, HasSubstr("pvh boot"));
}

TEST(BootTest, MultibootFlatBinary) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"run", "--kernel", TestKernel("mb_aout.bin")});
  EXPECT_EQ(r.exit_code, 42) << r.err;  // 99 would mean EAX lacked the magic
  EXPECT_EQ(r.out, "hello from multiboot\n");
  EXPECT_THAT(r.err, HasSubstr("multiboot boot"));
}

TEST(BootTest, MultibootElf32) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"run", "--kernel", TestKernel("mb_elf32.elf32")});
  EXPECT_EQ(r.exit_code, 42) << r.err;
  EXPECT_EQ(r.out, "hello from multiboot\n");
}

TEST(BootTest, SerialLogAndQuiet) {
  REQUIRE_KVM();
  std::string log = ::testing::TempDir() + "/boot_test_serial.log";
  ProcResult r =
      RunTlbscope({"run", "--kernel", TestKernel("mb_aout.bin"), "--quiet", "--serial-log", log});
  EXPECT_EQ(r.exit_code, 42) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(ReadFile(log), "hello from multiboot\n");
  ::unlink(log.c_str());
}

// guest-probe's selftest at several SMP sizes: every check reported through
// the probe channel must pass, and every CPU must have come online.
class SelftestTest : public ::testing::TestWithParam<int> {};

TEST_P(SelftestTest, AllChecksPass) {
  REQUIRE_KVM();
  int smp = GetParam();
  std::string results = ::testing::TempDir() + "/selftest_" + std::to_string(smp) + ".json";
  ProcResult r =
      RunTlbscope({"run", "--smp", std::to_string(smp), "--timeout", "60", "--results", results});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* check : {"cpus_online", "ipi_pingpong", "cr3_switch", "invlpg", "user_task"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("PASS ") + check)) << r.out;
  }
  EXPECT_THAT(r.out, Not(HasSubstr("FAIL")));
  EXPECT_THAT(r.out,
              HasSubstr(std::to_string(smp) + " of " + std::to_string(smp) + " CPUs online"));
  EXPECT_THAT(r.err, HasSubstr("guest checks: 5 passed, 0 failed"));
  std::string json = ReadFile(results);
  EXPECT_THAT(json, HasSubstr("\"stopReason\": \"guest-exit\""));
  EXPECT_THAT(json, HasSubstr("\"checksPassed\": 5"));
  EXPECT_THAT(json, HasSubstr("\"checksFailed\": 0"));
  EXPECT_THAT(json, HasSubstr("\"bootProtocol\": \"pvh\""));
  // The trap plan and, per vCPU, agreement with the guest's own counts.
  EXPECT_THAT(json, HasSubstr("\"traps\": {"));
  EXPECT_THAT(json, HasSubstr("\"trapsEnabled\": true"));
  EXPECT_THAT(json, Not(HasSubstr("\"matchesGuest\": false")));
  size_t matches = 0;
  for (size_t p = json.find("\"matchesGuest\": true"); p != std::string::npos;
       p = json.find("\"matchesGuest\": true", p + 1)) {
    ++matches;
  }
  EXPECT_EQ(matches, static_cast<size_t>(smp));
  ::unlink(results.c_str());
}

INSTANTIATE_TEST_SUITE_P(Smp, SelftestTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return "smp" + std::to_string(info.param); });

TEST(BootTest, GuestProbeBootsThroughMultibootToo) {
  REQUIRE_KVM();
  ProcResult r = RunTlbscope({"run", "--smp", "2", "--boot", "multiboot", "--timeout", "60"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("multiboot boot"));
  EXPECT_THAT(r.err, HasSubstr("guest checks: 5 passed, 0 failed"));
}

}  // namespace
}  // namespace tlbscope::testing
