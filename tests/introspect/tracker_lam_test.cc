// LAM on a real Linux kernel's probes (lam_probe.cc), seed 002: a process
// enables LAM on CPU 0 while CPU 1 holds its mm lazily, then runs on CPU 1
// again. The stock kernel's enable_lam_func() IPI puts the LAM bits into
// CPU 1's CR3 (a write outside any switch); the seed-002 kernel skips the
// lazy CPU, and its switch back (same mm, same generation) writes no CR3:
// CPU 1 returns to user mode without the mm's LAM. Through the real
// collector: the stock events are clean, the bug's are lam-mismatch.
#include "tests/introspect/tracker_fixture.h"

namespace tlbscope::introspect::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int kSysExit = 15, kArchPrctl = 18;
constexpr uint64_t kU57 = 1ull << 61;

class TrackerLamTest : public TrackerTest {
 protected:
  uint64_t RootA() { return kMmA + 0x100000 - kDirectMap; }
  void UserReturn(uint32_t cpu) {
    ProbeRegs r;
    r.rsp = Stack(cpu);
    r.cr3 = cr3_[cpu];
    ASSERT_TRUE(tracker_->OnExitSite(cpu, kFn + 0x1000 * kSysExit, r, g_));
  }
  // arch_prctl on CPU 0 returning `rax`; `inside` runs in it.
  void ArchPrctl(uint64_t rax, const std::function<void()>& inside) {
    Call(0, kArchPrctl, {0, 0x4002, 6}, inside, rax);
  }
  std::vector<const v1::Event*> Of(v1::Event::KindCase kind) {
    std::vector<const v1::Event*> out;
    for (const v1::Event& e : synth_.events()) {
      if (e.kind_case() == kind) out.push_back(&e);
    }
    return out;
  }
  // CPU 1 ran mm A and went lazy in it; CPU 0 runs mm A and enables LAM
  // (the IPI reaches CPU 1 only when `ipi_to_lazy`); CPU 1 switches back.
  void Seed002(bool ipi_to_lazy) {
    SwitchToA(1, 1, 0x2);
    Call(1, 1, {kMmA, 0}, [] {});  // enter_lazy_tlb: CPU 1 lazy in mm A
    Lazy(1, true);
    SwitchToA(0, 1, 0x3);
    UserReturn(0);
    ArchPrctl(0, [&] {
      g_.Put(kMmA + l_->mm_lam_cr3_mask.offset, kU57);
      g_.Put(kMmA + l_->mm_untag_mask.offset, ~(0x3full << 57));
      Cr3(0, RootA() | kU57);                   // enable_lam_func, here
      if (ipi_to_lazy) Cr3(1, RootA() | kU57);  // and on the lazy CPU
    });
    UserReturn(0);
    // The process moves back to CPU 1: same mm, same gen, no CR3 write.
    Call(1, 0, {kMmA, kMmA, 0}, [&] { Lazy(1, false); });
    UserReturn(1);
  }
};

TEST_F(TrackerLamTest, TheStockKernelsLamReachesTheLazyCpu) {
  Seed002(/*ipi_to_lazy=*/true);
  auto sets = Of(v1::Event::kLamSet);
  ASSERT_EQ(sets.size(), 1u);  // once, at the prctl's return
  EXPECT_EQ(sets[0]->lam_set().mm(), 5u);
  EXPECT_EQ(sets[0]->lam_set().lam_cr3_bits(), kU57);
  EXPECT_EQ(sets[0]->lam_set().untag_mask(), ~(0x3full << 57));
  auto users = Of(v1::Event::kUserEnter);
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users[0]->user_enter().cpu_lam(), 0u);
  EXPECT_EQ(users[1]->user_enter().cpu_lam(), kU57);
  EXPECT_EQ(users[2]->user_enter().cpu_lam(), kU57);
  EXPECT_THAT(synth_.Check(), IsEmpty());
}

TEST_F(TrackerLamTest, ALazyCpuLeftWithoutTheMmsLamIsCaught) {
  Seed002(/*ipi_to_lazy=*/false);
  auto switches = Of(v1::Event::kContextSwitch);
  ASSERT_FALSE(switches.empty());
  const v1::ContextSwitch& back = switches.back()->context_switch();
  EXPECT_EQ(back.cr3(), 0u);  // no CR3 write
  EXPECT_TRUE(back.was_lazy());
  EXPECT_EQ(back.mm_lam(), kU57);
  EXPECT_EQ(back.cpu_lam(), 0u);
  EXPECT_THAT(synth_.Check(), ElementsAre("lam-mismatch"));
}

TEST_F(TrackerLamTest, AForkedMmWithLamIsSetWhereItIsFirstSeen) {
  // No prctl seen (a child inherits its parent's LAM): the switch that
  // loads it reads the mask, and lam_set comes first.
  g_.Put(kMmA + l_->mm_lam_cr3_mask.offset, kU57);
  Call(0, 0, {kInitMm, kMmA, 0}, [&] {
    Mask(kMmA, 0x1);
    Cr3(0, RootA() | kU57);
    Load(0, kMmA, 0, 5, 1, false);
  });
  UserReturn(0);
  std::vector<v1::Event::KindCase> kinds;
  for (const v1::Event& e : synth_.events()) {
    if (e.kind_case() == v1::Event::kLamSet || e.kind_case() == v1::Event::kContextSwitch)
      kinds.push_back(e.kind_case());
  }
  EXPECT_THAT(kinds, ElementsAre(v1::Event::kLamSet, v1::Event::kContextSwitch));
  EXPECT_THAT(synth_.Check(), IsEmpty());
}

TEST_F(TrackerLamTest, ARefusedPrctlAndAKernelWithoutLamSetNothing) {
  SwitchToA(0, 1, 0x1);
  ArchPrctl(static_cast<uint64_t>(-19), [] {});  // ENODEV: no LAM on this CPU
  UserReturn(0);
  EXPECT_THAT(Of(v1::Event::kLamSet), IsEmpty());
  // CONFIG_ADDRESS_MASKING off: no member to read, so no prctl breakpoint
  // (an exit per arch_prctl for nothing) and nothing read at switches.
  k_.layout.mm_lam_cr3_mask.found = false;
  synth_ = Synth();
  tracker_ = std::make_unique<LinuxTracker>(k_, 2, [this](uint32_t cpu, v1::Event e) {
    v1::Event& slot = synth_.Add(cpu);
    uint64_t seq = slot.sequence();
    uint32_t vcpu = slot.vcpu();
    slot = std::move(e);
    slot.set_vcpu(vcpu);
    slot.set_sequence(seq);
  });
  for (const LinuxTracker::Entry& e : tracker_->entries()) {
    EXPECT_STRNE(e.function, "do_arch_prctl_64");
  }
  g_.Put(kMmA + l_->mm_lam_cr3_mask.offset, kU57);
  SwitchToA(1, 1, 0x3);
  UserReturn(1);
  EXPECT_THAT(Of(v1::Event::kLamSet), IsEmpty());
  EXPECT_EQ(tracker_->read_failures(), 0u);
}

}  // namespace
}  // namespace tlbscope::introspect::testing
