// The Linux probes' return int3s wait for the kernel's boot-time text
// patching (vmm/linux/boot_placement.h): none before system_state reaches
// SYSTEM_SCHEDULING, then each, planned from the code as it is then. The
// entry int3s go in before the run either way.
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
  const PlannedProbe* Return() {
    for (const PlannedProbe& p : probes_->plan().probes) {
      if (p.at_return) return &p;
    }
    return nullptr;
  }
};

TEST_F(LinuxProbesBootGateTest, ReturnsWaitForTheBootPatchingThenFollowTheKernelsCode) {
  ASSERT_TRUE(probes_->waits_for_boot());
  ASSERT_EQ(l_.system_scheduling_state, std::optional<uint64_t>(2));  // the fake kernel's enum
  EXPECT_THAT(probes_->plan().problems, IsEmpty());
  const PlannedProbe* ret = Return();
  ASSERT_NE(ret, nullptr);
  EXPECT_EQ(ret->plan.address, fn_["syscall_exit_to_user_mode"] + 1);
  EXPECT_EQ(ret->plan.length, 5);  // jmp __x86_return_thunk
  // The entries are in; the return is not, yet it is the probes' own (a
  // --hold there hands them its hits).
  EXPECT_EQ(TextByte(fn_["enter_lazy_tlb"]), 0xcc);
  EXPECT_EQ(TextByte(ret->plan.address), 0xe9);
  EXPECT_TRUE(probes_->Owns(ret->plan.address));
  EXPECT_FALSE(probes_->Owns(ret_[0]));
  // start_kernel()'s apply_returns: the jmp becomes `ret; int3...`.
  Poke(ret->plan.address, 0xc3);
  SetState(1);        // before SYSTEM_SCHEDULING: still patching
  Invlpg(0, 0x1000);  // a trapped instruction
  EXPECT_FALSE(probes_->placed());
  EXPECT_EQ(TextByte(ret->plan.address), 0xc3);
  SetState(2);
  Invlpg(1, 0x1000);
  ASSERT_TRUE(probes_->placed());
  EXPECT_EQ(TextByte(ret->plan.address), 0xcc);
  EXPECT_EQ(ret->plan.length, 1);  // now a 1-byte ret
  EXPECT_THAT(probes_->late_problems(), IsEmpty());
}

TEST_F(LinuxProbesBootGateTest, AReturnTheKernelChangedUnderIsRefusedWithALine) {
  const PlannedProbe* ret = Return();
  ASSERT_NE(ret, nullptr);
  Poke(ret->plan.address, 0x90);  // neither ret nor jmp any more
  SetState(4);                    // SYSTEM_RUNNING
  Cr3(0, kPml4);
  ASSERT_TRUE(probes_->placed());
  std::vector<std::string> late = probes_->late_problems();
  ASSERT_EQ(late.size(), 1u) << absl::StrJoin(late, "\n");
  EXPECT_THAT(late[0], ::testing::StartsWith("syscall_exit_to_user_mode: the return at"));
  EXPECT_EQ(TextByte(ret->plan.address), 0x90);
}

TEST_F(LinuxProbesTest, WithoutSystemStateEveryInt3GoesInBeforeTheRun) {
  EXPECT_FALSE(probes_->waits_for_boot());
  EXPECT_TRUE(probes_->placed());
  EXPECT_EQ(TextByte(fn_["enter_lazy_tlb"]), 0xcc);
}

}  // namespace
}  // namespace tlbscope::linux_probes_testing
