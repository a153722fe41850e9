// The Linux probes that feed the invariants beyond switches and flushes
// (tracker_fixture.h's fake guest): what a gather freed (page_table_free,
// page_free after its flush), membarrier SYNC_CORE registration, the
// return to user mode and the kernel's sync_core. Each goes through the
// real collector: a stock kernel's events are clean, a seed bug's are the
// seed's invariant.
#include "tests/introspect/tracker_fixture.h"

namespace tlbscope::introspect::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int kPteFree = 11, kPmdFree = 12, kRemovePage = 13, kMembarrier = 14, kSysExit = 15,
              kIrqExit = 16, kCondMask = 17;
constexpr uint64_t kPtePage = 0xffffea0000012340ull;  // a struct page
constexpr uint64_t kPmdTable = kDirectMap + 0x5000;
constexpr uint64_t kUserPage = 0xffffea0000045600ull;
constexpr uint64_t kShouldFlushTlb = kFn + 0x1000 * 7;

class TrackerEventsTest : public TrackerTest {
 protected:
  uint64_t Tlb(uint32_t cpu) { return kDirectMap + 0x50000000 + 0x1000ull * cpu; }
  // CPU 0 unmaps [0x400000, 0x600000) of mm A and frees its PTE and PMD
  // tables and one page; its flush (freed_tables) goes to CPU 1 only when
  // `cpu1_flushed` (the kernel asked should_flush_tlb(), which said no to
  // the lazy CPU: seed 000), through on_each_cpu_cond_mask.
  void UnmapFreeingTables(bool cpu1_flushed) {
    Gather(
        0, 0x400000, 0x600000, 1,
        [&] {
          Call(0, kRemovePage, {Tlb(0), kUserPage, 0, 4096}, [] {});
          Call(0, kPteFree, {Tlb(0), kPtePage}, [] {});
          Call(0, kPmdFree, {Tlb(0), kPmdTable}, [] {});
        },
        [&] {
          ShootdownWith(2, 0, ~0ull, /*freed=*/true, [&] {
            Call(0, kCondMask,
                 {cpu1_flushed ? 0 : kShouldFlushTlb, kFn + 0x4000, kInfo, 1, kInfo + 0x800},
                 [] {});
            if (!cpu1_flushed) ShouldFlush(0, 1, false);
            FlushFunc(0, 2, 0, ~0ull);
            if (cpu1_flushed) FlushFunc(1, 2, 0, ~0ull);
          });
        });
  }
  // A return instruction of syscall_exit_to_user_mode (kSysExit) or
  // irqentry_exit_to_user_mode (kIrqExit) on `cpu`, as the VMM reports it.
  void UserReturn(uint32_t cpu, int fn) {
    ProbeRegs r;
    r.rsp = Stack(cpu);
    ASSERT_TRUE(tracker_->OnExitSite(cpu, kFn + 0x1000 * fn, r, g_));
  }
  std::vector<const v1::Event*> Of(v1::Event::KindCase kind) {
    std::vector<const v1::Event*> out;
    for (const v1::Event& e : synth_.events()) {
      if (e.kind_case() == kind) out.push_back(&e);
    }
    return out;
  }
};

TEST_F(TrackerEventsTest, WhatAGatherFreedFollowsItsFlushAndALazyCpuLeftBehindIsCaught) {
  for (bool stock : {true, false}) {
    SCOPED_TRACE(stock ? "stock: every CPU of the mask" : "seed 000: the lazy CPU skipped");
    synth_ = Synth();
    SetUp();
    SwitchToA(0, 1, 0x1);
    SwitchToA(1, 1, 0x3);
    Call(1, 1, {kMmA, 0}, [] {});  // enter_lazy_tlb: CPU 1 idles with mm A
    Lazy(1, true);
    UnmapFreeingTables(stock);
    auto tables = Of(v1::Event::kPageTableFree);
    ASSERT_EQ(tables.size(), 2u);
    EXPECT_EQ(tables[0]->page_table_free().table_address(), kPtePage);
    EXPECT_EQ(tables[0]->page_table_free().level(), 1u);
    EXPECT_EQ(tables[1]->page_table_free().level(), 2u);
    EXPECT_EQ(tables[0]->page_table_free().mm(), 5u);
    EXPECT_EQ(tables[0]->page_table_free().covering_tlb_gen(), 2u);
    auto pages = Of(v1::Event::kPageFree);
    ASSERT_EQ(pages.size(), 1u);
    EXPECT_EQ(pages[0]->page_free().kernel_page(), kUserPage);
    // Both after the flush and before the gather's end.
    const auto& all = synth_.events();
    auto pos = [&](const v1::Event* e) { return e - all.data(); };
    EXPECT_LT(pos(Of(v1::Event::kFlushDone).back()), pos(tables[0]));
    EXPECT_LT(pos(pages[0]), pos(Of(v1::Event::kGatherEnd).back()));
    auto requests = Of(v1::Event::kFlushRequest);
    ASSERT_EQ(requests.size(), 1u);
    std::vector<uint32_t> targets(requests[0]->flush_request().target_cpus().begin(),
                                  requests[0]->flush_request().target_cpus().end());
    const std::vector<uint32_t> want =
        stock ? std::vector<uint32_t>{0, 1} : std::vector<uint32_t>{0};
    EXPECT_EQ(targets, want);
    std::vector<std::string> v = synth_.Check();
    if (stock) {
      EXPECT_THAT(v, IsEmpty());
    } else {
      EXPECT_THAT(v, ElementsAre("table-freed-while-walkable"));
    }
  }
}

// With no condition the targets are the mask on_each_cpu_cond_mask() is
// given (here CPU 1 has left it since native_flush_tlb_multi's entry).
TEST_F(TrackerEventsTest, WithoutAConditionTheTargetsAreTheMaskTheIpiCodeGets) {
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  ShootdownWith(2, 0, ~0ull, /*freed=*/true, [&] {
    g_.Put(kInfo + 0x900, 0x1);
    Call(0, kCondMask, {0, kFn + 0x4000, kInfo, 1, kInfo + 0x900}, [] {});
    FlushFunc(0, 2, 0, ~0ull);
  });
  auto requests = Of(v1::Event::kFlushRequest);
  ASSERT_EQ(requests.size(), 1u);
  ASSERT_EQ(requests[0]->flush_request().target_cpus_size(), 1);
  EXPECT_EQ(requests[0]->flush_request().target_cpus(0), 0u);
}

TEST_F(TrackerEventsTest, AGatherThatNeverEndsKeepsNoMoreThanItsBound) {
  for (size_t i = 0; i < kMaxFreesPerGather + 5; ++i) {
    Call(0, kRemovePage, {Tlb(0), kUserPage + 0x40 * i, 0, 4096}, [] {});
  }
  Gather(
      0, 0x400000, 0x401000, 1, [] {}, [] {});  // tlb_gather_mmu forgets what came before
  EXPECT_THAT(Of(v1::Event::kPageFree), IsEmpty());
  // A gather whose tlb_finish_mmu made no flush: its frees have no covering
  // flush to be judged against, and are not emitted.
  Gather(
      0, 0x400000, 0x401000, 1,
      [&] {
        Call(0, kRemovePage, {Tlb(0), kUserPage, 0, 4096}, [] {});
      },
      [] {});
  EXPECT_THAT(Of(v1::Event::kPageFree), IsEmpty());
  EXPECT_EQ(Of(v1::Event::kGatherEnd).size(), 2u);
}

TEST_F(TrackerEventsTest, MembarrierSyncCoreRegistrationIsSeenOncePerMm) {
  SwitchToA(0, 1, 0x1);
  Call(
      0, kMembarrier, {1}, [] {}, /*rax=*/static_cast<uint64_t>(-22));  // refused
  Call(
      0, kMembarrier, {0}, [] {}, 0);  // plain private expedited: no SYNC_CORE bit
  EXPECT_THAT(Of(v1::Event::kMembarrierRegister), IsEmpty());
  ASSERT_TRUE(l_->membarrier_sync_core_state.has_value());
  g_.Put(kMmA + l_->mm_membarrier_state.offset, *l_->membarrier_sync_core_state | 1, 4);
  for (int i = 0; i < 2; ++i)
    Call(
        0, kMembarrier, {1}, [] {}, 0);
  auto regs = Of(v1::Event::kMembarrierRegister);
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_EQ(regs[0]->membarrier_register().mm(), 5u);
}

// Seed 004: CPU 1 leaves lazy mode into its SYNC_CORE mm with no CR3 write
// and returns to user mode; the stock kernel's finish_task_switch()
// serializes first (the sync_core site), the bug kernel does not.
TEST_F(TrackerEventsTest, AnUnlazyReturnToUserWithoutSyncCoreIsCaught) {
  for (bool stock : {true, false}) {
    SCOPED_TRACE(stock ? "stock" : "seed 004");
    synth_ = Synth();
    SetUp();
    SwitchToA(0, 1, 0x1);
    SwitchToA(1, 1, 0x3);
    g_.Put(kMmA + l_->mm_membarrier_state.offset, *l_->membarrier_sync_core_state, 4);
    Call(
        0, kMembarrier, {1}, [] {}, 0);
    Call(1, 1, {kMmA, 0}, [] {});  // CPU 1 goes lazy in mm A
    Lazy(1, true);
    // The thread comes back: same mm, same gen: switch_mm writes no CR3.
    Call(1, 0, {kMmA, kMmA, 0}, [&] { Lazy(1, false); });
    if (stock) tracker_->OnSyncCore(1, g_);
    UserReturn(1, kIrqExit);
    auto users = Of(v1::Event::kUserEnter);
    ASSERT_EQ(users.size(), 1u);
    EXPECT_EQ(users[0]->user_enter().mm(), 5u);
    EXPECT_EQ(users[0]->user_enter().local_gen(), 1u);
    EXPECT_EQ(users[0]->user_enter().mm_gen(), 1u);
    EXPECT_EQ(Of(v1::Event::kSyncCore).size(), stock ? 1u : 0u);
    std::vector<std::string> v = synth_.Check();
    if (stock) {
      EXPECT_THAT(v, IsEmpty());
    } else {
      EXPECT_THAT(v, ElementsAre("unlazy-without-sync-core"));
    }
  }
}

// A slot holding another mm's generation says nothing about this mm's.
TEST_F(TrackerEventsTest, UserEnterTakesTheLocalGenOnlyFromTheMmsOwnSlot) {
  SwitchToA(0, 3, 0x1);
  Gen(kMmA, 3);
  UserReturn(0, kSysExit);
  LocalGen(0, 9, 7);  // the slot now names another mm
  UserReturn(0, kSysExit);
  auto users = Of(v1::Event::kUserEnter);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0]->user_enter().local_gen(), 3u);
  EXPECT_EQ(users[0]->user_enter().mm_gen(), 3u);
  EXPECT_EQ(users[1]->user_enter().local_gen(), 0u);
}

}  // namespace
}  // namespace tlbscope::introspect::testing

namespace tlbscope::introspect::testing {
namespace {

// The model against the kernel at each return to user mode (a Linux
// stream): equal while the events tell the whole story; a flush_tlb_func
// the probes missed leaves the model's local gen behind the guest's, and
// the next return to user mode says so.
TEST_F(TrackerEventsTest, TheModelMatchesTheGuestAtEachReturnToUserMode) {
  SwitchToA(0, 1, 0x1);
  SwitchToA(1, 1, 0x3);
  Shootdown(2, 0x400000, 0x402000);
  UserReturn(1, kSysExit);
  collect::Collector ok;
  ok.SetEventSource("linux");
  synth_.Check(&ok);
  EXPECT_EQ(ok.state_check().checks, 1u);
  EXPECT_EQ(ok.state_check().mismatches, 0u);
  LocalGen(1, 5, 3);  // the guest moved on without an event
  UserReturn(1, kSysExit);
  collect::Collector bad;
  bad.SetEventSource("linux");
  synth_.Check(&bad);
  EXPECT_EQ(bad.state_check().checks, 2u);
  EXPECT_EQ(bad.state_check().mismatches, 1u);
  EXPECT_THAT(bad.state_check().first_mismatch,
              ::testing::HasSubstr("vcpu 1 returning to user mode in mm 5: the model's local gen "
                                   "is 2, the guest's 3"));
  collect::Collector rings;  // guest-probe's streams are not compared
  synth_.Check(&rings);
  EXPECT_EQ(rings.state_check().checks, 0u);
}

}  // namespace
}  // namespace tlbscope::introspect::testing
