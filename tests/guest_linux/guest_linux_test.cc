// The guest-linux test kernel (built by guest-linux/build-kernel.sh, the
// guest_linux_kernel CTest fixture) booted with the tlbwork initramfs at
// --smp 2 and 4: every workload exits 0 and the kernel's own TLB counters
// reach the run's results. A missing kernel is a failure (the fixture's
// build failed), never a skip; only a missing /dev/kvm skips, saying so.

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/integration/run_helper.h"
#include "tlbscope/v1/run_result.pb.h"
#include "vmm/cli/linux_guest.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;

const v1::LinuxCounter* Counter(const v1::RunResult& r, const std::string& source,
                                const std::string& name) {
  for (const v1::LinuxCounter& c : r.linux_counters()) {
    if (c.source() == source && c.name() == name) return &c;
  }
  return nullptr;
}

class GuestLinuxTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    std::string kernel = LinuxKernelDir() + "/bzImage";
    ASSERT_EQ(::access(kernel.c_str(), R_OK), 0)
        << kernel << " is missing: the guest_linux_kernel fixture (guest-linux/build-kernel.sh) "
        << "did not build it; this test fails rather than skips";
    REQUIRE_KVM();
  }
};

// Every workload in one boot ("all"), checked one by one.
TEST_P(GuestLinuxTest, EveryWorkloadExitsZeroWithTheKernelsCounters) {
  int smp = GetParam();
  std::string results = ::testing::TempDir() + "/guest-linux-smp" + std::to_string(smp) + ".json";
  ProcResult r = RunTlbscope({"run", "--linux", "--workload", "all", "--smp", std::to_string(smp),
                              "--timeout", "600", "--results", results},
                             700);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("TLBWORK init:"));
  EXPECT_THAT(r.err, HasSubstr("tlbscope: linux: kernel counters: nr_tlb_"));
  v1::RunResult pb;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReadFile(results), &pb).ok());
  EXPECT_EQ(pb.stop_reason(), "guest-exit");
  std::set<std::string> passed;
  for (const v1::LinuxWorkloadRun& w : pb.linux_workloads()) {
    if (w.passed()) passed.insert(w.name());
  }
  for (const std::string& name : LinuxWorkloadNames()) {
    if (name != "all") EXPECT_TRUE(passed.contains(name)) << name << " did not pass\n" << r.out;
  }
  EXPECT_GT(pb.checks_passed(), 10u);
  EXPECT_EQ(pb.checks_failed(), 0u);
  // The counters: all present, the IPI rows per CPU, and the workloads made
  // remote and local flushes (each workload also checks its own deltas).
  for (const char* name : {"nr_tlb_remote_flush", "nr_tlb_remote_flush_received",
                           "nr_tlb_local_flush_all", "nr_tlb_local_flush_one"}) {
    ASSERT_NE(Counter(pb, "vmstat", name), nullptr) << name;
  }
  EXPECT_GT(Counter(pb, "vmstat", "nr_tlb_remote_flush")->total(), 0u);
  EXPECT_GT(Counter(pb, "vmstat", "nr_tlb_remote_flush_received")->total(), 0u);
  EXPECT_GT(Counter(pb, "vmstat", "nr_tlb_local_flush_one")->total(), 0u);
  for (const char* row : {"TLB", "CAL"}) {
    const v1::LinuxCounter* c = Counter(pb, "interrupts", row);
    ASSERT_NE(c, nullptr) << row;
    EXPECT_EQ(c->per_cpu_size(), smp) << row;
    EXPECT_GT(c->total(), 0u) << row;
  }
  // The kernel's counters against tlbscope's (docs/linux.md): the trapped
  // CR3 writes and INVLPGs bound them; the probe rows agree or, where the
  // trace has no probe events, say why they were not checked.
  EXPECT_THAT(r.err, HasSubstr("tlbscope: kernel counters: "));
  ASSERT_EQ(pb.kernel_counter_checks_size(), 6);
  for (const v1::KernelCounterCheck& k : pb.kernel_counter_checks()) {
    EXPECT_NE(k.verdict(), "mismatch")
        << k.counter() << " vs " << k.tlbscope_counts() << ": " << k.reason();
    if (k.relation() == "at_most") {
      EXPECT_EQ(k.verdict(), "agree") << k.counter() << " vs " << k.tlbscope_counts();
    }
    if (k.verdict() == "not checked") EXPECT_NE(k.reason(), "") << k.counter();
  }
}

INSTANTIATE_TEST_SUITE_P(Smp, GuestLinuxTest, ::testing::Values(2, 4),
                         [](const auto& info) { return "smp" + std::to_string(info.param); });

// A workload name the guest does not know (given on the kernel command line,
// past tlbscope's own check): the guest says so and exits 2.
TEST(GuestLinuxBadInputTest, UnknownWorkloadInTheGuestExitsTwo) {
  std::string kernel = LinuxKernelDir() + "/bzImage";
  ASSERT_EQ(::access(kernel.c_str(), R_OK), 0) << kernel << " is missing";
  REQUIRE_KVM();
  ProcResult r = RunTlbscope(
      {"run", "--linux", "--cmdline", "console=ttyS0 tlbwork=bogus", "--timeout", "300"}, 400);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.out, HasSubstr("TLBWORK error: unknown workload 'bogus'"));
}

}  // namespace
}  // namespace tlbscope::testing
