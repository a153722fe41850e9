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

TEST_F(LinuxProbesBootGateTest, AnEntryTheBootPatchingWroteOverIsPlannedAgainAndPlaced) {
  const uint64_t at = IntAddress("enter_lazy_tlb");
  ASSERT_EQ(TextByte(at), 0xcc);
  const uint64_t mm_range = IntAddress("flush_tlb_mm_range");
  // apply_paravirt()/apply_alternatives() write their code over our int3s:
  // `push %rbp` where `push %rbx` was, a 5-byte call where `push %r12` was.
  Poke(at, 0x55);
  const uint8_t call[] = {0xe8, 0, 0, 0, 0};
  ASSERT_TRUE(mem_->Write(TextPaddr(mm_range), call).ok());
  EXPECT_TRUE(engine_->probe_points().Overwritten(at));
  SetState(2);
  Invlpg(0, 0x1000);
  ASSERT_TRUE(probes_->placed());
  EXPECT_EQ(TextByte(at), 0xcc);
  EXPECT_EQ(TextByte(mm_range), 0xcc);
  EXPECT_FALSE(engine_->probe_points().Overwritten(at));
  std::vector<std::string> retaken = probes_->retaken();
  ASSERT_EQ(retaken.size(), 2u) << absl::StrJoin(retaken, "\n");
  EXPECT_THAT(retaken[0], ::testing::StartsWith("enter_lazy_tlb (now"));
  EXPECT_THAT(retaken[0], ::testing::HasSubstr("emulate push rbp"));
  EXPECT_THAT(retaken[1], ::testing::HasSubstr("flush_tlb_mm_range (now"));
  EXPECT_THAT(retaken[1], ::testing::HasSubstr(": step"));
  EXPECT_THAT(probes_->late_problems(), IsEmpty());
  // A step over it puts the kernel's new byte back, not the file's.
  ASSERT_TRUE(engine_->probe_points().Lift(at).ok());
  EXPECT_EQ(TextByte(at), 0x55);
  ASSERT_TRUE(engine_->probe_points().Rearm(at).ok());
  // The hit is emulated as the new instruction: push rbp.
  FakeVcpu& v = vcpus_[0];
  const uint64_t rsp = kDirectMap + 0x2000000;
  v.regs().rip = at;
  v.regs().rsp = rsp;
  v.regs().rbp = 0x1234;
  EXPECT_EQ(Hit(0, at, rsp), ProbeClient::Next::kResume);
  EXPECT_EQ(v.regs().rsp, rsp - 8);
  EXPECT_EQ(*mem_->ReadObject<uint64_t>(rsp - 8 - kDirectMap), 0x1234u);
}

TEST_F(LinuxProbesTest, WithoutSystemStateEveryInt3GoesInBeforeTheRun) {
  EXPECT_FALSE(probes_->waits_for_boot());
  EXPECT_TRUE(probes_->placed());
  EXPECT_EQ(TextByte(fn_["enter_lazy_tlb"]), 0xcc);
}

}  // namespace
}  // namespace tlbscope::linux_probes_testing
