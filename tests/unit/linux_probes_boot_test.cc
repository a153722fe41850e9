// The Linux probes' int3s wait for the kernel's boot-time text patching
// (vmm/linux/boot_placement.h): none before system_state reaches
// SYSTEM_SCHEDULING, then every one, planned from the code as it is then.
#include "absl/strings/str_join.h"
#include "tests/unit/linux_probes_fixture.h"

namespace tlbscope::linux_probes_testing {
namespace {

class LinuxProbesBootGateTest : public LinuxProbesTest {
 protected:
  LinuxProbesBootGateTest() { boot_gate_ = true; }
  void SetState(uint32_t v) { ASSERT_TRUE(mem_->WriteObject(TextPaddr(system_state_), v).ok()); }
  void Poke(uint64_t gva, uint8_t byte) {
    ASSERT_TRUE(mem_->WriteObject(TextPaddr(gva), byte).ok());
  }
  std::string How(const std::string& function) {
    for (const PlannedProbe& p : probes_->plan().probes) {
      if (p.function == function) return p.plan.Describe().substr(p.plan.Describe().find(':') + 2);
    }
    return "";
  }
};

TEST_F(LinuxProbesBootGateTest, Int3sWaitForTheBootPatchingThenFollowTheKernelsCode) {
  ASSERT_TRUE(probes_->waits_for_boot());
  ASSERT_EQ(l_.system_scheduling_state, std::optional<uint64_t>(2));  // the fake kernel's enum
  ASSERT_EQ(probes_->plan().probes.size(), 10u);
  for (const PlannedProbe& p : probes_->plan().probes) {
    EXPECT_NE(TextByte(p.plan.address), 0xcc) << p.Describe() << ": placed before boot";
  }
  EXPECT_EQ(engine_->probe_points().size(), 0u);
  // Its own before placed (a --hold there hands it the hits); not a return.
  EXPECT_TRUE(probes_->Owns(fn_["enter_lazy_tlb"]));
  EXPECT_FALSE(probes_->Owns(ret_[0]));
  EXPECT_EQ(How("enter_lazy_tlb"), "emulate push rbx");
  // start_kernel() rewrites enter_lazy_tlb's first instruction.
  Poke(fn_["enter_lazy_tlb"], 0x55);  // push %rbp
  SetState(1);                        // before SYSTEM_SCHEDULING: still patching
  Invlpg(0, 0x1000);                  // a trapped instruction
  EXPECT_FALSE(probes_->placed());
  EXPECT_EQ(engine_->probe_points().size(), 0u);
  SetState(2);
  Invlpg(1, 0x1000);
  ASSERT_TRUE(probes_->placed());
  for (const PlannedProbe& p : probes_->plan().probes) {
    EXPECT_EQ(TextByte(p.plan.address), 0xcc) << p.Describe();
  }
  ASSERT_EQ(probes_->plan().loads.size(), 1u);
  EXPECT_EQ(TextByte(probes_->plan().loads[0].site.after()), 0xcc);
  EXPECT_EQ(How("enter_lazy_tlb"), "emulate push rbp");
  EXPECT_THAT(probes_->late_problems(), IsEmpty());
}

TEST_F(LinuxProbesBootGateTest, AProbeTheKernelChangedUnderIsRefusedWithALineTheRestPlaced) {
  // The kernel's own int3 (text_poke_bp at work) on flush_tlb_all, and
  // native_flush_tlb_multi's ftrace NOP become a call: its int3 would move.
  Poke(fn_["flush_tlb_all"], 0xcc);
  Poke(fn_["native_flush_tlb_multi"], 0xe8);
  SetState(4);  // SYSTEM_RUNNING
  Cr3(0, kPml4);
  ASSERT_TRUE(probes_->placed());
  std::vector<std::string> late = probes_->late_problems();
  ASSERT_EQ(late.size(), 2u) << absl::StrJoin(late, "\n");
  EXPECT_THAT(late[0], ::testing::StartsWith("native_flush_tlb_multi: its entry plan moved"));
  EXPECT_THAT(late[1], ::testing::StartsWith("flush_tlb_all: "));
  const ProbePlan& plan = probes_->plan();
  EXPECT_EQ(engine_->probe_points().size(),
            plan.probes.size() - 2 + plan.loads.size() + plan.sync_cores.size());
  EXPECT_EQ(TextByte(fn_["enter_lazy_tlb"]), 0xcc);
}

TEST_F(LinuxProbesTest, WithoutSystemStateTheInt3sGoInBeforeTheRun) {
  EXPECT_FALSE(probes_->waits_for_boot());
  EXPECT_TRUE(probes_->placed());
  EXPECT_EQ(TextByte(fn_["enter_lazy_tlb"]), 0xcc);
}

}  // namespace
}  // namespace tlbscope::linux_probes_testing
