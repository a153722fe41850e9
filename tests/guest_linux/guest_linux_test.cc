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

#include "tests/common/pass_boot_gate.h"
#include "tests/integration/run_helper.h"
#include "tlbscope/v1/run_result.pb.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/cli/linux_guest.h"
#include "vmm/linux/linux_probes.h"

namespace tlbscope::testing {
namespace {

using ::testing::ElementsAre;
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

// No KVM needed: the test kernel loaded into guest memory as a run loads
// it, and its probes planned from its own System.map and BTF. Every probed
// function of the issue has a symbol, each int3 lands on the bytes the
// entry plan read (no IBT and no ftrace in this config: a push is
// emulated, anything else stepped).
TEST(GuestLinuxProbePlanTest, TheTestKernelsProbesArePlacedFromItsOwnKnowledge) {
  std::string dir = LinuxKernelDir();
  std::string kernel = dir + "/bzImage";
  ASSERT_EQ(::access(kernel.c_str(), R_OK), 0) << kernel << " is missing";
  std::string bytes = ReadFile(kernel);
  std::span<const uint8_t> image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  absl::StatusOr<GuestMemory> mem = GuestMemory::Create(256 << 20);
  ASSERT_TRUE(mem.ok());
  absl::StatusOr<LoadedKernel> k = LoadKernelBytes(image, kernel, BootProtocol::kAuto, "", *mem);
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_FALSE(k->vmlinux.empty());
  // The bytes before the int3s, to compare with what the plan read.
  std::vector<uint8_t> before(mem->host_base(), mem->host_base() + mem->size());
  ProbePoints points(&*mem);
  std::string why;
  std::unique_ptr<LinuxProbes> probes = CreateLinuxProbes(
      {dir + "/System.map", dir + "/vmlinux.btf"}, k->vmlinux, &*mem, &points, 2, &why);
  ASSERT_NE(probes, nullptr) << why;
  for (const std::string& problem : probes->plan().problems) ADD_FAILURE() << problem;
  tlbscope::testing::PassBootGate(*probes, *mem, points);
  // should_flush_tlb (6.12 stable), the 5 kernel_flush ones (cache_* since
  // 6.2), on_each_cpu_cond_mask, 3 table levels, 2 page removals,
  // membarrier, do_arch_prctl_64 (LAM: CONFIG_ADDRESS_MASKING): 21 entries;
  // and one `ret` in each exit to user mode.
  int returns = 0;
  for (const PlannedProbe& p : probes->plan().probes) returns += p.at_return;
  EXPECT_EQ(probes->plan().probes.size() - returns, 21u);
  EXPECT_EQ(returns, 2);
  int emulated = 0;
  for (const PlannedProbe& p : probes->plan().probes) {
    SCOPED_TRACE(p.Describe());
    EXPECT_EQ(*mem->ReadObject<uint8_t>(p.paddr), 0xcc);
    if (p.at_return) {
      EXPECT_EQ(before[p.paddr], 0xc3);
      continue;
    }
    EXPECT_FALSE(p.plan.after_ftrace);  // this config has no ftrace
    EXPECT_EQ(p.plan.address, p.function_address);
    // The loaded bytes under the int3 are the ones the plan was made from.
    const uint8_t* was = &before[p.paddr];
    using Skip = introspect::EntryPlan::Skip;
    if (p.plan.skip == Skip::kEmulatePush) {
      ++emulated;
      bool rex = p.plan.length == 2;
      EXPECT_EQ(rex, was[0] == 0x41);
      EXPECT_EQ(was[rex ? 1 : 0], 0x50 + (p.plan.push_reg & 7));
    } else if (p.plan.skip == Skip::kEmulateNop) {
      ++emulated;
      EXPECT_TRUE(was[0] == 0xf3 || was[0] == 0x0f);  // endbr64 or the 5-byte NOP
    }
  }
  // Measured on this config: switch_mm_irqs_off, flush_tlb_func and
  // tlb_finish_mmu start with a push; the other four are stepped.
  EXPECT_GE(emulated, 3);
  // finish_task_switch's sync_core: SERIALIZE and iret_to_self's `mov eax, ss`
  ASSERT_EQ(probes->plan().sync_cores.size(), 2u);
  EXPECT_EQ(probes->plan().sync_cores[0].site.text, "serialize");
  EXPECT_THAT(probes->plan().sync_cores[1].site.text, HasSubstr("mov"));
  EXPECT_EQ(points.size(), probes->plan().probes.size() + probes->plan().loads.size() +
                               probes->plan().sync_cores.size());
  // The test kernel has CONFIG_ADDRESS_MASKING: LAM is supplied (seed 002).
  EXPECT_THAT(probes->SuppliedEvents(),
              ElementsAre("page_table_free", "page_free", "user_enter", "membarrier", "lam"));
  ASSERT_EQ(probes->plan().loads.size(), 1u);  // tlb_finish_mmu's nested check
  EXPECT_THAT(probes->plan().loads[0].Describe(), HasSubstr("tlb_finish_mmu+"));
  // Without the BTF file the layouts are missing (the payload is stripped
  // and has no .BTF): one line, no probes.
  ProbePoints none(&*mem);
  EXPECT_EQ(CreateLinuxProbes({dir + "/System.map", ""}, k->vmlinux, &*mem, &none, 2, &why),
            nullptr);
  EXPECT_THAT(why, HasSubstr("struct layouts"));
}

// The Linux probes (issue 14) on the test kernel: its System.map and BTF
// beside the bzImage make the knowledge complete, so the probes are on by
// default; the kernel's context switches and flushes reach the trace and
// the in-process collector rebuilds them with a clean verdict.
TEST(GuestLinuxProbesTest, ContextSwitchesAndFlushesReachTheTraceAndTheVerdictIsClean) {
  std::string kernel = LinuxKernelDir() + "/bzImage";
  ASSERT_EQ(::access(kernel.c_str(), R_OK), 0) << kernel << " is missing";
  REQUIRE_KVM();
  std::string trace = ::testing::TempDir() + "/guest-linux-probes.trace";
  ProcResult r = RunTlbscope({"run", "--linux", "--workload", "munmap", "--iterations", "5",
                              "--smp", "2", "--timeout", "600", "--record", trace},
                             700);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.err, HasSubstr("tlbscope: linux probes: 13 breakpoints"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("trapped instructions only")));
  ProcResult info = RunTlbscope({"trace-info", trace}, 60);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  for (const char* kind : {"context_switch", "flush_request", "flush_func", "flush_done"}) {
    EXPECT_THAT(info.out, HasSubstr(kind)) << info.out;
  }
  // --no-linux-probes: trapped instructions only, and none of those events.
  ProcResult off =
      RunTlbscope({"run", "--linux", "--workload", "munmap", "--iterations", "2", "--smp", "2",
                   "--timeout", "600", "--no-linux-probes", "--record", trace},
                  700);
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_THAT(off.err, ::testing::Not(HasSubstr("linux probes:")));
  info = RunTlbscope({"trace-info", trace}, 60);
  EXPECT_THAT(info.out, ::testing::Not(HasSubstr("flush_func")));
}

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
