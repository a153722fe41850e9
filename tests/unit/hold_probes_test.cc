// --hold in the VMM (vmm/machine/hold_probes), no KVM: sites resolved from
// made-up symbols and placed as probe int3s in guest memory, hits as
// made-up vCPU states, threads standing in for vCPU threads. The Linux
// probes' place is taken by a recording client, to check the order.
#include "vmm/machine/hold_probes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "tests/unit/fake_vcpu.h"
#include "vmm/machine/machine_parts.h"

namespace tlbscope {
namespace {

using testing::FakeVcpu;

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Kernel text at 0xffffffff80000000 + physical, one 1 GiB page.
constexpr uint64_t kKernel = 0xffffffff80000000ull;
constexpr uint64_t kPml4 = testing::FakeVcpu::kCr3, kPdpt = 0x2000;
constexpr uint64_t kF = kKernel + 0x1000100, kG = kKernel + 0x1000200;
constexpr uint64_t kCaller = kKernel + 0x1000345, kStack = kKernel + 0x800000;

// The client behind the holds: records the hits handed on.
class Recorder : public ProbeClient {
 public:
  Next OnProbeHit(int vcpu, VcpuStateView& state) override {
    std::lock_guard<std::mutex> lock(mu);
    hits.push_back({vcpu, (*state.regs())->rip});
    return Next::kResume;
  }
  bool Owns(uint64_t gva) const override { return owned.contains(gva); }
  std::set<uint64_t> owned;  // int3s it will place later (the Linux probes, after boot)
  std::mutex mu;
  std::vector<std::pair<int, uint64_t>> hits;
};

class HoldProbesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(32 << 20));
    ASSERT_TRUE(mem_->WriteObject<uint64_t>(kPml4 + 8 * 511, kPdpt | 3).ok());
    ASSERT_TRUE(mem_->WriteObject<uint64_t>(kPdpt + 8 * 510, 0 | 0x80 | 3).ok());
    points_ = std::make_unique<ProbePoints>(mem_.get());
    for (int i = 0; i < 2; ++i) vcpus_.push_back(std::make_unique<FakeVcpu>(i));
  }

  absl::StatusOr<std::unique_ptr<HoldProbes>> Make(const std::vector<std::string>& texts,
                                                   ProbeClient* next = nullptr) {
    std::vector<hold::Spec> specs;
    for (const std::string& t : texts) specs.push_back(*hold::ParseSpec(t, 2));
    std::map<std::string, uint64_t> syms = {{"f", kF}, {"g", kG}};
    std::vector<ElfSegment> loads = {{0x1000000, kKernel + 0x1000000, 0, 0x10000, 0x10000}};
    return HoldProbes::Create(
        std::move(specs),
        [syms](const std::string& n) -> std::optional<uint64_t> {
          auto it = syms.find(n);
          if (it == syms.end()) return std::nullopt;
          return it->second;
        },
        loads, mem_.get(), points_.get(), next);
  }

  ProbeClient::Next Hit(HoldProbes& h, int cpu, uint64_t rip, uint64_t rsp) {
    vcpus_[cpu]->regs().rip = rip;
    vcpus_[cpu]->regs().rsp = rsp;
    VcpuStateView view(vcpus_[cpu]->vcpu(), true);
    return h.OnProbeHit(cpu, view);
  }
  uint8_t Byte(uint64_t gva) { return *mem_->ReadObject<uint8_t>(gva - kKernel); }

  std::unique_ptr<GuestMemory> mem_;
  std::unique_ptr<ProbePoints> points_;
  std::vector<std::unique_ptr<FakeVcpu>> vcpus_;
};

TEST_F(HoldProbesTest, HeldAtEntryUntilTheOtherReturnsFromItsFunction) {
  absl::StatusOr<std::unique_ptr<HoldProbes>> h = Make({"1:f,release=0:g%return,timeout=60s"});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(Byte(kF), 0xcc);
  EXPECT_EQ(Byte(kG), 0xcc);
  std::atomic<bool> done{false};
  std::thread held([&] {
    Hit(**h, 1, kF, kStack);
    done = true;
  });
  while ((*h)->coordinator().stats(0).held == 0) std::this_thread::yield();
  // vCPU 0 enters g (called from kCaller): an int3 goes on the return.
  ASSERT_TRUE(mem_->WriteObject<uint64_t>(kStack - 0x1000 - kKernel, kCaller).ok());
  Hit(**h, 0, kG, kStack - 0x1000);
  EXPECT_EQ(Byte(kCaller), 0xcc);
  // vCPU 1 at g, or vCPU 0 back at the caller on another stack: not it.
  Hit(**h, 0, kCaller, kStack - 0x2000);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(done);
  // The return itself releases vCPU 1 and takes its int3 away.
  Hit(**h, 0, kCaller, kStack - 0x1000 + 8);
  held.join();
  EXPECT_NE(Byte(kCaller), 0xcc);
  EXPECT_EQ((*h)->coordinator().stats(0).released, 1u);
  EXPECT_THAT((*h)->Summaries(), ElementsAre(HasSubstr("held 1, released 1, timed out 0")));
}

TEST_F(HoldProbesTest, TheNextClientSeesSharedHitsFirstAndNotTheHoldsOwn) {
  Recorder next;
  // A Linux probe already at f.
  ASSERT_TRUE(points_->Place(kF, kF - kKernel).ok());
  absl::StatusOr<std::unique_ptr<HoldProbes>> h = Make({"1:f,release=0:g,timeout=10ms"}, &next);
  ASSERT_TRUE(h.ok()) << h.status();
  // vCPU 1 at f: the Linux probe gets it (and performs the instruction),
  // then the hold times out.
  EXPECT_EQ(Hit(**h, 1, kF, kStack), ProbeClient::Next::kResume);
  EXPECT_EQ((*h)->coordinator().stats(0).timed_out, 1u);
  // g is the hold's alone: the next client never hears of it.
  EXPECT_EQ(Hit(**h, 0, kG, kStack), ProbeClient::Next::kStep);
  // Somewhere else entirely: the next client's.
  Hit(**h, 0, kKernel + 0x1000400, kStack);
  EXPECT_THAT(next.hits,
              ElementsAre(std::make_pair(1, kF), std::make_pair(0, kKernel + 0x1000400)));
}

TEST_F(HoldProbesTest, ASiteTheNextClientPlacesOnlyLaterIsSharedToo) {
  Recorder next;
  next.owned.insert(kF);  // not placed yet: waiting for the kernel's boot
  absl::StatusOr<std::unique_ptr<HoldProbes>> h = Make({"1:f,release=0:g,timeout=10ms"}, &next);
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_TRUE(points_->Place(kF, kF - kKernel).ok());  // the boot is done
  EXPECT_EQ(Hit(**h, 1, kF, kStack), ProbeClient::Next::kResume);
  EXPECT_THAT(next.hits, ElementsAre(std::make_pair(1, kF)));
}

TEST_F(HoldProbesTest, UnknownSymbolsAndAddressesOutsideTheKernelAreRefused) {
  absl::StatusOr<std::unique_ptr<HoldProbes>> h = Make({"1:nosuch,release=0:g"});
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(),
            "--hold 1:nosuch,release=0:g: 1:nosuch: no symbol 'nosuch' in this kernel");
  h = Make({"1:f,release=0:0xffffffff90000000"});
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(std::string(h.status().message()),
              HasSubstr("0:0xffffffff90000000: 0xffffffff90000000 is in no loaded segment"));
}

// The guest decides whether a function it entered ever returns: the
// pending %return int3s are bounded, the oldest dropped and its byte put back.
TEST_F(HoldProbesTest, PendingReturnsAreBounded) {
  absl::StatusOr<std::unique_ptr<HoldProbes>> h = Make({"1:f,release=0:g%return"});
  ASSERT_TRUE(h.ok()) << h.status();
  constexpr size_t kEntries = HoldProbes::kMaxPendingReturns + 4;
  for (size_t i = 0; i < kEntries; ++i) {
    uint64_t rsp = kStack - 0x1000 - 0x100 * i;
    ASSERT_TRUE(mem_->WriteObject<uint64_t>(rsp - kKernel, kCaller + 0x10 * i).ok());
    Hit(**h, 0, kG, rsp);
  }
  EXPECT_EQ(points_->size(), 2 + HoldProbes::kMaxPendingReturns);  // f, g and the newest returns
  EXPECT_NE(Byte(kCaller), 0xcc);
  EXPECT_NE(Byte(kCaller + 0x10 * 3), 0xcc);
  EXPECT_EQ(Byte(kCaller + 0x10 * 4), 0xcc);
  EXPECT_EQ(Byte(kCaller + 0x10 * (kEntries - 1)), 0xcc);
}

TEST_F(HoldProbesTest, StoppingTheVmReleasesAHeldVcpu) {
  absl::StatusOr<std::unique_ptr<HoldProbes>> h = Make({"1:f,release=0:g,timeout=600s"});
  ASSERT_TRUE(h.ok()) << h.status();
  std::thread held([&] { Hit(**h, 1, kF, kStack); });
  while ((*h)->coordinator().stats(0).held == 0) std::this_thread::yield();
  (*h)->Stop("vcpu 0: guest exit 0");
  held.join();
  EXPECT_EQ((*h)->coordinator().stats(0).stopped, 1u);
}

}  // namespace
}  // namespace tlbscope

namespace tlbscope {
namespace {

// A host where an int3 in guest kernel code cannot be trapped (no int3
// exit, no emulation failure for it) cannot place a hold's sites: one line
// saying so, before anything is placed.
TEST(CreateHoldsTest, AHostWithoutInt3TrapsRefusesHold) {
  auto guest = std::make_unique<LoadedGuest>(LoadedGuest{*GuestMemory::Create(1 << 20)});
  HostCaps caps;
  caps.cap_guest_debug = true;
  caps.hw_breakpoints = 4;
  caps.hw_breakpoint_fires = true;
  caps.single_step_works = true;
  TrapEngine engine(caps, {}, &guest->mem, 2);
  MachineConfig config;
  config.smp = 2;
  config.holds = {"1:f,release=0:g"};
  absl::StatusOr<std::unique_ptr<HoldHandle>> h = CreateHolds(config, *guest, &engine, nullptr);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(h.status().message(),
            "--hold: this host cannot trap an int3 in guest kernel code (the hold sites' "
            "breakpoints)");
  EXPECT_EQ(engine.probe_points().size(), 0u);
  // Without --hold there is nothing to place, on any host.
  config.holds.clear();
  h = CreateHolds(config, *guest, &engine, nullptr);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, nullptr);
}

}  // namespace
}  // namespace tlbscope
