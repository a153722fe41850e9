// The VMM side of the probes that feed the membarrier SYNC_CORE invariant
// (linux_probes_fixture.h, no KVM): finish_task_switch's serializing
// instructions found by Capstone and planned, a hit on one giving a
// sync_core in that vCPU's order with the instruction stepped, and what
// the plan supplies.
#include "introspect/probes/supplies.h"
#include "tests/unit/linux_probes_fixture.h"
#include "vmm/linux/return_site.h"
#include "vmm/linux/skip_emulation.h"
#include "vmm/linux/sync_core_site.h"

namespace tlbscope::linux_probes_testing {
namespace {

TEST_F(LinuxProbesTest, SyncCoreSitesArePlannedAndAHitIsASyncCore) {
  const std::vector<PlannedSyncCore>& s = probes_->plan().sync_cores;
  ASSERT_EQ(s.size(), 2u);
  uint64_t f = fn_["finish_task_switch.isra.0"];
  EXPECT_EQ(s[0].site.address, f + 1);  // after push %rbp
  EXPECT_EQ(s[0].Describe(), "finish_task_switch.isra.0+0x1: `serialize`");
  EXPECT_EQ(s[1].site.address, f + 6);  // jmp rel8 is 2 bytes
  EXPECT_EQ(s[1].site.text, "mov eax, ss");
  EXPECT_EQ(TextByte(s[0].site.address), 0xcc);
  EXPECT_EQ(TextByte(s[1].site.address), 0xcc);
  SwitchToA(1, 0x2);
  EXPECT_EQ(Hit(1, s[0].site.address, kDirectMap + 0x2100000), ProbeClient::Next::kStep);
  EXPECT_EQ(probes_->counts().sync_cores, 1u);
  std::vector<v1::Event> all = Finish();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(EventKindName(all.back()), "sync_core");
  EXPECT_EQ(all.back().vcpu(), 1u);
  EXPECT_EQ(all.back().sync_core().mm(), 5u);
  // This kernel has none of the free, membarrier or user-return functions.
  EXPECT_THAT(probes_->SuppliedEvents(), IsEmpty());
}

TEST(SyncCoreSiteTest, BothFormsAreFoundAndNothingElse) {
  const uint8_t code[] = {
      0x55,              // push rbp
      0x0f, 0x01, 0xe8,  // serialize
      0x8c, 0xd0,        // mov eax, ss
      0x8c, 0xc8,        // mov eax, cs: not a site
      0x48, 0xcf,        // iretq
      0x0f, 0x01, 0xe8,  // serialize again
      0x0f, 0x0b,        // ud2
      0xc3,              // ret
  };
  bool complete = false;
  std::vector<SyncCoreSite> s = FindSyncCoreSites(code, 0x1000, &complete);
  EXPECT_TRUE(complete);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].address, 0x1001u);
  EXPECT_EQ(s[1].address, 0x1004u);
  EXPECT_EQ(s[2].address, 0x100au);
  // Undecodable bytes that are not SERIALIZE end the search.
  const uint8_t bad[] = {0x0f, 0x01, 0xff, 0x0f, 0x01, 0xe8};
  EXPECT_THAT(FindSyncCoreSites(bad, 0, &complete), IsEmpty());
  EXPECT_FALSE(complete);  // not read whole: no proof of none
  const uint8_t none[] = {0x55, 0x5d, 0xc3};
  EXPECT_THAT(FindSyncCoreSites(none, 0, &complete), IsEmpty());
  EXPECT_TRUE(complete);
}

// Every return of a function: `ret`, and a `jmp` to the return thunk (which
// returns); not `ret imm16`, not another jmp. Undecodable code is no proof.
TEST(ReturnSiteTest, RetsAndReturnThunkJumps) {
  const uint8_t code[] = {
      0x55,                          // 0 push rbp
      0x74, 0x01,                    // 1 je +1
      0xc3,                          // 3 ret
      0xe9, 0x10, 0x00, 0x00, 0x00,  // 4 jmp 0x1019: the thunk
      0xe9, 0x20, 0x00, 0x00, 0x00,  // 9 jmp 0x102e: elsewhere
      0xc2, 0x08, 0x00,              // 14 ret 8
      0xc3,                          // 17 ret
  };
  bool complete = false;
  EXPECT_THAT(FindReturnSites(code, 0x1000, 0x1019, &complete),
              ElementsAre(0x1003, 0x1004, 0x1011));
  EXPECT_TRUE(complete);
  EXPECT_THAT(FindReturnSites(code, 0x1000, std::nullopt, &complete), ElementsAre(0x1003, 0x1011));
  const uint8_t bad[] = {0xc3, 0x0f, 0x01, 0xe8};  // SERIALIZE: Capstone 4 cannot
  FindReturnSites(bad, 0, std::nullopt, &complete);
  EXPECT_FALSE(complete);
}

// The emulated return: rip from the stack through the page walk, rsp up by
// 8, nothing written.
TEST_F(LinuxProbesTest, ARetIsEmulatedExactly) {
  uint64_t rsp = kDirectMap + 0x2000ff8;  // the 8 bytes in one page
  Put(rsp, 0xffffffff81234567ull);
  kvm_regs r{};
  r.rsp = rsp;
  r.rip = 0xffffffff81000000ull;
  introspect::EntryPlan plan;
  plan.skip = introspect::EntryPlan::Skip::kEmulateRet;
  PagingMode mode{(1ull << 31) | 1, kPml4, 1 << 5, (1 << 8) | (1 << 10)};
  ASSERT_TRUE(EmulateSkip(plan, r, *mem_, mode).ok());
  EXPECT_EQ(r.rip, 0xffffffff81234567ull);
  EXPECT_EQ(r.rsp, rsp + 8);
  r.rsp = 0x00007fff00000000ull;  // not mapped
  EXPECT_FALSE(EmulateSkip(plan, r, *mem_, mode).ok());
}

// An event kind is supplied only when every probe it needs that the kernel
// has got its breakpoint.
TEST(SuppliedEventsTest, EachKindNeedsAllOfItsProbes) {
  introspect::KernelLayout l;
  introspect::ProbeCoverage c;
  c.found = {"tlb_gather_mmu",
             "tlb_finish_mmu",
             "___pte_free_tlb",
             "___pmd_free_tlb",
             "__tlb_remove_page_size",
             "syscall_exit_to_user_mode",
             "irqentry_exit_to_user_mode",
             "membarrier_register_private_expedited"};
  c.placed = c.found;
  EXPECT_THAT(introspect::SuppliedEvents(c, l),
              ElementsAre("page_table_free", "page_free", "user_enter"));
  l.mm_membarrier_state.found = true;
  l.membarrier_sync_core_state = 32;
  EXPECT_THAT(introspect::SuppliedEvents(c, l),
              ElementsAre("page_table_free", "page_free", "user_enter"));  // no sync_core site
  c.sync_core_sites = 1;
  EXPECT_THAT(introspect::SuppliedEvents(c, l),
              ElementsAre("page_table_free", "page_free", "user_enter", "membarrier"));
  c.sync_core_sites = 0;
  c.no_sync_core_proven = true;  // a kernel that never serializes there (seed 004)
  EXPECT_THAT(introspect::SuppliedEvents(c, l),
              ElementsAre("page_table_free", "page_free", "user_enter", "membarrier"));
  // LAM: the kernel's mask (CONFIG_ADDRESS_MASKING) and the prctl's probe.
  c.found.push_back("do_arch_prctl_64");
  EXPECT_THAT(introspect::SuppliedEvents(c, l),
              ::testing::Not(::testing::Contains("lam")));  // not placed
  c.placed.push_back("do_arch_prctl_64");
  EXPECT_THAT(introspect::SuppliedEvents(c, l),
              ::testing::Not(::testing::Contains("lam")));  // no lam_cr3_mask
  l.mm_lam_cr3_mask.found = true;
  EXPECT_THAT(introspect::SuppliedEvents(c, l), ::testing::Contains("lam"));
  c.placed.pop_back();
  l.mm_lam_cr3_mask.found = false;
  c.placed.erase(c.placed.begin() + 3);  // ___pmd_free_tlb found, not placed
  c.placed.pop_back();                   // membarrier_register_private_expedited
  EXPECT_THAT(introspect::SuppliedEvents(c, l), ElementsAre("page_free", "user_enter"));
}

}  // namespace
}  // namespace tlbscope::linux_probes_testing
