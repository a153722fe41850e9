// Guest event rings: registration through the probe channel, draining by
// the sequencer, and the conversion of every record kind.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <x86intrin.h>

#include <cstring>
#include <thread>

#include "tests/unit/collect_sink.h"
#include "tests/unit/fake_run.h"
#include "tlbscope/probe_abi.h"
#include "vmm/devices/probe_channel.h"
#include "vmm/trace/convert.h"
#include "vmm/trace/pipeline.h"
#include "vmm/vcpu/exit_dispatch.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

tlbscope_ring_record Rec(uint16_t kind, uint16_t flags, std::initializer_list<uint64_t> a) {
  tlbscope_ring_record r{};
  r.kind = kind;
  r.flags = flags;
  r.tsc = 1234;
  int i = 0;
  for (uint64_t v : a) r.a[i++] = v;
  return r;
}

TEST(GuestRecordToEventTest, EveryKindSwitchesAndFlushes) {
  v1::Event e = GuestRecordToEvent(Rec(TLBSCOPE_EV_IPI_SENT, 0, {0b1010, 0x40}));
  ASSERT_TRUE(e.has_ipi_sent());
  EXPECT_THAT(e.ipi_sent().target_cpus(), ::testing::ElementsAre(1, 3));
  EXPECT_EQ(e.ipi_sent().vector(), 0x40u);
  EXPECT_EQ(GuestRecordToEvent(Rec(TLBSCOPE_EV_IPI_RECEIVED, 0, {0x42})).ipi_received().vector(),
            0x42u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_CONTEXT_SWITCH, 1, {0x1000, 0x5000, 0x5003, 3}));
  EXPECT_EQ(e.context_switch().prev_mm(), 0x1000u);
  EXPECT_EQ(e.context_switch().next_mm(), 0x5000u);
  EXPECT_EQ(e.context_switch().cr3(), 0x5003u);
  EXPECT_EQ(e.context_switch().asid(), 3u);
  EXPECT_TRUE(e.context_switch().need_flush());
  EXPECT_EQ(GuestRecordToEvent(Rec(TLBSCOPE_EV_LAZY_ENTER, 0, {7})).lazy_enter().mm(), 7u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_LAZY_EXIT, 1, {7}));
  EXPECT_TRUE(e.lazy_exit().flushed());
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_FLUSH_REQUEST, 1, {9, 0x1000, 0x3000, 12, 44, 0b110}));
  EXPECT_EQ(e.flush_request().mm(), 9u);
  EXPECT_EQ(e.flush_request().end(), 0x3000u);
  EXPECT_EQ(e.flush_request().stride_shift(), 12u);
  EXPECT_EQ(e.flush_request().new_tlb_gen(), 44u);
  EXPECT_TRUE(e.flush_request().freed_tables());
  EXPECT_THAT(e.flush_request().target_cpus(), ::testing::ElementsAre(1, 2));
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_FLUSH_FUNC, 0, {9, 40, 44, 44, 0x1000, 0x2000}));
  EXPECT_EQ(e.flush_func().local_gen_before(), 40u);
  EXPECT_EQ(e.flush_func().local_gen_after(), 44u);
  EXPECT_FALSE(e.flush_func().full());
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_PAGE_TABLE_FREE, 0, {9, 0x7000, 2}));
  EXPECT_EQ(e.page_table_free().level(), 2u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_STALE_READ, 0, {9, 0x4000, 0x2222, 0x1111}));
  EXPECT_EQ(e.stale_read().observed(), 0x1111u);
  e = GuestRecordToEvent(
      Rec(TLBSCOPE_EV_CONTEXT_SWITCH, TLBSCOPE_CS_WAS_LAZY, {3, 3, 0, 0, 1ull << 61, 1ull << 61}));
  EXPECT_TRUE(e.context_switch().was_lazy());
  EXPECT_FALSE(e.context_switch().need_flush());
  EXPECT_FALSE(e.context_switch().raw());
  EXPECT_EQ(e.context_switch().cpu_lam(), 1ull << 61);
  EXPECT_EQ(e.context_switch().mm_lam(), 1ull << 61);
}

TEST(GuestRecordToEventTest, EveryKindFreesGathersAndFlags) {
  v1::Event e;
  tlbscope_ring_record ff = Rec(TLBSCOPE_EV_FLUSH_FUNC, 0, {9});
  ff.aux = 44;
  EXPECT_EQ(GuestRecordToEvent(ff).flush_func().request_tlb_gen(), 44u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_FLUSH_FUNC, TLBSCOPE_FF_LAZY_LEFT, {9}));
  EXPECT_TRUE(e.flush_func().lazy_left());
  EXPECT_FALSE(e.flush_func().not_loaded());
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_PAGE_TABLE_FREE, 0, {9, 0x7000, 1, 12}));
  EXPECT_EQ(e.page_table_free().covering_tlb_gen(), 12u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_FLUSH_DONE, 0, {9, 12, 0b101}));
  EXPECT_EQ(e.flush_done().tlb_gen(), 12u);
  EXPECT_THAT(e.flush_done().acked_cpus(), ::testing::ElementsAre(0, 2));
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_PAGE_FREE, 0, {9, 0x8000201000, 0x345000, 12}));
  EXPECT_EQ(e.page_free().address(), 0x8000201000u);
  EXPECT_EQ(e.page_free().physical_address(), 0x345000u);
  EXPECT_EQ(e.page_free().covering_tlb_gen(), 12u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_GATHER_START, 0, {9, 0x1000, 0x5000, 2}));
  EXPECT_EQ(e.gather_start().end(), 0x5000u);
  EXPECT_EQ(e.gather_start().pending(), 2u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_GATHER_END, TLBSCOPE_GE_NESTED | TLBSCOPE_GE_OWN_FREED,
                             {9, 0x1000, 0x5000, 13, TLBSCOPE_LEVEL_PTE, 2}));
  EXPECT_TRUE(e.gather_end().nested());
  EXPECT_FALSE(e.gather_end().freed_tables());
  EXPECT_TRUE(e.gather_end().own_freed_tables());
  EXPECT_EQ(e.gather_end().flush_tlb_gen(), 13u);
  EXPECT_EQ(e.gather_end().levels(), 1u);
  EXPECT_EQ(e.gather_end().pending_seen(), 2u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_LAM_SET, 0, {9, 1ull << 61, ~0ull >> 6}));
  EXPECT_EQ(e.lam_set().lam_cr3_bits(), 1ull << 61);
  EXPECT_EQ(
      GuestRecordToEvent(Rec(TLBSCOPE_EV_MEMBARRIER_REGISTER, 0, {9})).membarrier_register().mm(),
      9u);
  EXPECT_EQ(GuestRecordToEvent(Rec(TLBSCOPE_EV_SYNC_CORE, 0, {9, 1})).sync_core().reason(), 1u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_USER_ENTER, 0, {9, 4, 5, 0}));
  EXPECT_EQ(e.user_enter().local_gen(), 4u);
  EXPECT_EQ(e.user_enter().mm_gen(), 5u);
  EXPECT_EQ(GuestRecordToEvent(Rec(TLBSCOPE_EV_USER_EXIT, 0, {9, 0x80})).user_exit().vector(),
            0x80u);
  e = GuestRecordToEvent(Rec(TLBSCOPE_EV_CPUMASK, 1, {9, 0b11, 1}));
  EXPECT_THAT(e.cpumask().cpus(), ::testing::ElementsAre(0, 1));
  EXPECT_TRUE(e.cpumask().set());
  EXPECT_EQ(e.cpumask().cpu(), 1u);
  e = GuestRecordToEvent(Rec(77, 0, {}));
  EXPECT_EQ(e.guest_log().text(), "event ring record of unknown kind 77") << "never dropped";
}

using ::tlbscope::test_support::CollectSink;

TEST(GuestRingDrainTest, RecordsBecomeEventsAndTailAdvances) {
  constexpr uint32_t kSlots = 4;
  alignas(64) uint8_t mem[sizeof(tlbscope_ring) + kSlots * sizeof(tlbscope_ring_record)] = {};
  auto* ring = reinterpret_cast<tlbscope_ring*>(mem);
  auto* slots = reinterpret_cast<tlbscope_ring_record*>(ring + 1);
  ring->nslots = kSlots;
  TracePipeline p(2);
  CollectSink sink;
  p.AddSink(&sink);
  p.AddGuestRing(1, ring, kSlots);
  p.Start();
  // Six records through four slots, as a guest writes them: wrapping
  // around, waiting while the ring is full for the sequencer to drain it.
  for (uint64_t i = 0; i < 6; ++i) {
    while (ring->head - __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) == kSlots) {
      std::this_thread::yield();
    }
    slots[ring->head % kSlots] = Rec(TLBSCOPE_EV_IPI_RECEIVED, 0, {0x40 + i});
    slots[ring->head % kSlots].tsc = __rdtsc();
    __atomic_store_n(&ring->head, ring->head + 1, __ATOMIC_RELEASE);
  }
  p.Finish(v1::TraceEnd());
  ASSERT_EQ(sink.all.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(sink.all[i].vcpu(), 1u);
    EXPECT_EQ(sink.all[i].sequence(), i);
    EXPECT_EQ(sink.all[i].vcpu_sequence(), i);
    EXPECT_EQ(sink.all[i].ipi_received().vector(), 0x40 + i);
    EXPECT_GT(sink.all[i].host_time_ns(), 0);
  }
  EXPECT_EQ(ring->tail, 6u);
}

// A guest that has started a record (writing_tsc set) but not published
// it yet, for however long, holds back every later event: when it finally
// publishes, its record still comes first.
TEST(GuestRingDrainTest, ARecordBeingWrittenIsNotOvertaken) {
  constexpr uint32_t kSlots = 4;
  alignas(64) uint8_t mem[sizeof(tlbscope_ring) + kSlots * sizeof(tlbscope_ring_record)] = {};
  auto* ring = reinterpret_cast<tlbscope_ring*>(mem);
  auto* slots = reinterpret_cast<tlbscope_ring_record*>(ring + 1);
  ring->nslots = kSlots;
  TracePipeline p(2);
  CollectSink sink;
  p.AddSink(&sink);
  p.AddGuestRing(1, ring, kSlots);
  p.Start();
  uint64_t stamp = __rdtsc();
  __atomic_store_n(&ring->writing_tsc, stamp, __ATOMIC_SEQ_CST);
  slots[0] = Rec(TLBSCOPE_EV_IPI_RECEIVED, 0, {0x40});
  slots[0].tsc = stamp;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the vCPU stalls here
  v1::Event later;
  later.mutable_invlpg()->set_linear_address(0x1000);
  p.Append(0, later);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // sequencer passes
  EXPECT_TRUE(sink.all.empty()) << "nothing newer than the record being written";
  __atomic_store_n(&ring->head, 1, __ATOMIC_RELEASE);
  __atomic_store_n(&ring->writing_tsc, 0, __ATOMIC_RELEASE);
  p.Finish(v1::TraceEnd());
  ASSERT_EQ(sink.all.size(), 2u);
  EXPECT_TRUE(sink.all[0].has_ipi_received());
  EXPECT_TRUE(sink.all[1].has_invlpg());
}

// A hostile guest rewrites its ring header after registration: it grows
// nslots (the drain must keep the registered size: no read past the
// ring) and then floods head far past the slots. The drain refuses the
// ring with one line, keeps what it had drained, and neither spins nor
// allocates: Finish returns at once.
TEST(GuestRingDrainTest, AHostileHeaderAfterRegistrationIsRefusedNotFollowed) {
  constexpr uint32_t kSlots = 4;
  // Guard pages' worth of poison after the slots: a drain that used the
  // guest's nslots would turn them into events.
  alignas(64) uint8_t mem[sizeof(tlbscope_ring) + 64 * sizeof(tlbscope_ring_record)] = {};
  auto* ring = reinterpret_cast<tlbscope_ring*>(mem);
  auto* slots = reinterpret_cast<tlbscope_ring_record*>(ring + 1);
  for (int i = kSlots; i < 64; ++i) slots[i] = Rec(TLBSCOPE_EV_IPI_RECEIVED, 0, {0xee});
  ring->nslots = kSlots;
  TracePipeline p(2);
  CollectSink sink;
  p.AddSink(&sink);
  p.AddGuestRing(1, ring, kSlots);
  p.Start();
  for (uint64_t i = 0; i < 3; ++i) {
    slots[i] = Rec(TLBSCOPE_EV_IPI_RECEIVED, 0, {0x40 + i});
    slots[i].tsc = __rdtsc();
  }
  __atomic_store_n(&ring->head, 3, __ATOMIC_RELEASE);
  while (__atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) != 3) std::this_thread::yield();
  ring->nslots = 64;                                   // grows its ring: ignored
  __atomic_store_n(&ring->tail, 0, __ATOMIC_RELEASE);  // and rewinds the VMM's index: ignored
  slots[3] = Rec(TLBSCOPE_EV_IPI_RECEIVED, 0, {0x43});
  slots[3].tsc = __rdtsc();
  __atomic_store_n(&ring->head, 4, __ATOMIC_RELEASE);
  while (__atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) != 4) std::this_thread::yield();
  ::testing::internal::CaptureStderr();
  __atomic_store_n(&ring->head, uint64_t{1} << 62, __ATOMIC_RELEASE);  // floods head
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  __atomic_store_n(&ring->head, 5, __ATOMIC_RELEASE);  // too late: refused for good
  auto start = std::chrono::steady_clock::now();
  p.Finish(v1::TraceEnd());
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(err,
              HasSubstr("tlbscope: vcpu 1: guest event ring is corrupt (head 4611686018427387904, "
                        "consumed 4, 4 slots)"));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  ASSERT_EQ(sink.all.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(sink.all[i].ipi_received().vector(), 0x40 + i);
  EXPECT_EQ(p.counters().guest_rings_refused, 1u);
  EXPECT_EQ(ring->tail, 4u);
}

// A guest stamps its records with any TSC it likes, and the calibration
// right after the start can be far off (a vCPU thread preempted between
// the two clock reads): the host time stays in [0, now], with no
// float-to-int overflow (found by tests/fuzz's guest_ring target).
TEST(GuestTscToHostNsTest, AnyGuestStampMapsIntoZeroToNow) {
  // 3 TSC ticks per ns.
  EXPECT_EQ(GuestTscToHostNs(1'500'000'000, 0, 0, 3'000'000'000, 1'000'000'000), 500'000'000);
  // 10 TSC ticks over 1 ms: 100,000 ns per tick.
  constexpr uint64_t kTsc0 = 1000, kTsc1 = 1010;
  constexpr int64_t kNs1 = 1'000'000;
  EXPECT_EQ(GuestTscToHostNs(1005, kTsc0, 0, kTsc1, kNs1), 500'000);
  EXPECT_EQ(GuestTscToHostNs(UINT64_MAX, kTsc0, 0, kTsc1, kNs1), kNs1) << "from the future";
  EXPECT_EQ(GuestTscToHostNs(kTsc1 + 1, kTsc0, 0, kTsc1, kNs1), kNs1);
  EXPECT_EQ(GuestTscToHostNs(0, kTsc0, 0, kTsc1, kNs1), 0) << "before the clock's start";
  EXPECT_EQ(GuestTscToHostNs(0, 0, 0, 0, kNs1), kNs1) << "no calibration yet";
}

// head running backwards is as corrupt as head running away.
TEST(GuestRingDrainTest, AHeadThatRunsBackwardsIsRefused) {
  constexpr uint32_t kSlots = 4;
  alignas(64) uint8_t mem[sizeof(tlbscope_ring) + kSlots * sizeof(tlbscope_ring_record)] = {};
  auto* ring = reinterpret_cast<tlbscope_ring*>(mem);
  ring->nslots = kSlots;
  TracePipeline p(1);
  CollectSink sink;
  p.AddSink(&sink);
  p.AddGuestRing(0, ring, kSlots);
  p.Start();
  __atomic_store_n(&ring->head, 2, __ATOMIC_RELEASE);
  while (__atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) != 2) std::this_thread::yield();
  ::testing::internal::CaptureStderr();
  __atomic_store_n(&ring->head, 1, __ATOMIC_RELEASE);
  p.Finish(v1::TraceEnd());
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("(head 1, consumed 2, 4 slots)"));
  EXPECT_EQ(sink.all.size(), 2u);
  EXPECT_EQ(p.counters().guest_rings_refused, 1u);
}

class RingRegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(4 << 20));
    probe_ = std::make_unique<ProbeChannel>(mem_.get());
    bus_.Register(TLBSCOPE_PROBE_PORT, 4, probe_.get());
  }
  ExitAction Register(const tlbscope_ring& hdr, uint64_t ring_gpa = 0x10000) {
    EXPECT_TRUE(mem_->WriteObject(ring_gpa, hdr).ok());
    tlbscope_probe_msg m{};
    m.magic = TLBSCOPE_PROBE_MAGIC;
    m.abi_version = TLBSCOPE_PROBE_ABI_VERSION;
    m.kind = TLBSCOPE_PROBE_RING;
    m.arg[0] = ring_gpa;
    EXPECT_TRUE(mem_->WriteObject(0x9000, m).ok());
    return DispatchExit(fake_.Out32(TLBSCOPE_PROBE_PORT, 0x9000), 0, bus_);
  }
  static tlbscope_ring Good() {
    tlbscope_ring h{};
    h.magic = TLBSCOPE_RING_MAGIC;
    h.abi_version = TLBSCOPE_RING_ABI_VERSION;
    h.record_size = sizeof(tlbscope_ring_record);
    h.nslots = 256;
    return h;
  }
  testing::FakeRun fake_;
  std::unique_ptr<GuestMemory> mem_;
  std::unique_ptr<ProbeChannel> probe_;
  IoBus bus_;
};

TEST_F(RingRegistrationTest, GoodRingIsAccepted) {
  EXPECT_EQ(Register(Good()).kind, ExitAction::Kind::kContinue);
  EXPECT_EQ(probe_->report().rings, 1);
}

TEST_F(RingRegistrationTest, ASecondRingOnTheSameVcpuStopsTheVm) {
  EXPECT_EQ(Register(Good()).kind, ExitAction::Kind::kContinue);
  ExitAction a = Register(Good(), 0x20000);
  EXPECT_EQ(a.stop.reason, StopReason::kBadProbeMessage);
  EXPECT_THAT(a.stop.message, HasSubstr("vcpu 0 registered an event ring already"));
  EXPECT_EQ(probe_->report().rings, 1);
}

TEST_F(RingRegistrationTest, MalformedRingsStopTheVm) {
  tlbscope_ring h = Good();
  h.magic = 0;
  ExitAction a = Register(h);
  EXPECT_EQ(a.stop.reason, StopReason::kBadProbeMessage);
  EXPECT_THAT(a.stop.message, HasSubstr("event ring at 0x10000 has magic 0"));
  h = Good();
  h.nslots = 100;  // not a power of two
  EXPECT_EQ(Register(h).stop.reason, StopReason::kBadProbeMessage);
  h = Good();
  h.record_size = 32;
  EXPECT_EQ(Register(h).stop.reason, StopReason::kBadProbeMessage);
  h = Good();
  h.nslots = 1u << 16;  // 4 MiB of slots: past the end of the 4 MiB guest
  a = Register(h, 0x300000);
  EXPECT_EQ(a.stop.reason, StopReason::kBadProbeMessage);
  EXPECT_THAT(a.stop.message, HasSubstr("outside guest memory"));
  EXPECT_EQ(probe_->report().rings, 0);
}

}  // namespace
}  // namespace tlbscope
