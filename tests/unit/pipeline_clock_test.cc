// The sequencer's order when its own thread is preempted (issue 17 item 6:
// many-mms at smp 64 on a loaded host). A fake clock stalls the sequencer
// 8.8 ms between its TSC read and its clock read, as a scheduler slice
// does: a guest ring record written before a trapped event must still be
// sequenced before it.

#include <gtest/gtest.h>

#include <functional>
#include <utility>
#include <vector>

#include "tests/unit/collect_sink.h"
#include "tlbscope/probe_abi.h"
#include "vmm/trace/pipeline.h"
#include "vmm/trace/trace_clock.h"

namespace tlbscope {
namespace {

// Time only moves when the test says (plus 100 ns per read); the TSC runs
// at 3 GHz. Every clock read that directly follows a first TSC read stalls
// 8.8 ms: the sequencer "preempted" between rdtsc and clock_gettime. (A
// second TSC read right after a first one, a retry, is not stalled again.)
class StallingClock : public TraceClock {
 public:
  uint64_t Tsc() const override {
    real_ += 100;
    tsc_run_ = last_was_tsc_ ? tsc_run_ + 1 : 1;
    last_was_tsc_ = true;
    return TscAt(real_);
  }
  int64_t Ns() const override {
    if (last_was_tsc_ && tsc_run_ == 1 && stall_) real_ += 8'800'000;
    last_was_tsc_ = false;
    real_ += 100;
    return real_;
  }
  static uint64_t TscAt(int64_t ns) { return static_cast<uint64_t>(ns) * 3; }
  void Advance(int64_t ns) { real_ += ns; }
  int64_t now() const { return real_; }
  bool stall_ = true;

 private:
  mutable int64_t real_ = 1'000'000'000;
  mutable bool last_was_tsc_ = false;
  mutable int tsc_run_ = 0;
};

using ::tlbscope::test_support::CollectSink;

TEST(PipelineClockTest, APreemptedSequencerKeepsGuestRecordsBeforeLaterTrappedEvents) {
  StallingClock clock;
  TracePipeline p(2, 64, clock);
  CollectSink sink;
  p.AddSink(&sink);
  constexpr uint32_t kSlots = 4;
  alignas(64) uint8_t mem[sizeof(tlbscope_ring) + kSlots * sizeof(tlbscope_ring_record)] = {};
  auto* ring = reinterpret_cast<tlbscope_ring*>(mem);
  auto* slots = reinterpret_cast<tlbscope_ring_record*>(ring + 1);
  ring->nslots = kSlots;
  p.AddGuestRing(1, ring, kSlots);

  clock.Advance(5'000'000);
  // vCPU 1's guest writes a record; 1 ms later vCPU 0 traps a CR3 write.
  slots[0].kind = TLBSCOPE_EV_IPI_RECEIVED;
  slots[0].a[0] = 0x40;
  slots[0].tsc = StallingClock::TscAt(clock.now());
  const int64_t record_ns = clock.now();
  ring->head = 1;
  clock.Advance(1'000'000);
  v1::Event trapped;
  trapped.mutable_cr3_write()->set_new_cr3(0x1000);
  p.Append(0, trapped);
  clock.Advance(20'000'000);
  p.Finish(v1::TraceEnd());  // one drain, with the stall

  ASSERT_EQ(sink.all.size(), 2u);
  EXPECT_TRUE(sink.all[0].has_ipi_received()) << "the record written first comes first";
  EXPECT_TRUE(sink.all[1].has_cr3_write());
  const v1::Event& rec = sink.all[0].has_ipi_received() ? sink.all[0] : sink.all[1];
  // Its host time is where it was written, not 8.8 ms later.
  EXPECT_LT(std::abs(rec.host_time_ns() - record_ns), 100'000) << rec.host_time_ns() - record_ns;
}

// Time moves only when the test says (100 ns per read, TSC at 3 GHz); the
// n-th TSC read after Arm(n) runs `during` before it returns: what other
// vCPUs do while the sequencer is preempted right after that read.
class HookClock : public TraceClock {
 public:
  uint64_t Tsc() const override {
    real_ += 100;
    ++tsc_reads_;
    uint64_t tsc = static_cast<uint64_t>(real_) * 3;
    if (during_ && --until_ == 0) std::exchange(during_, nullptr)();
    return tsc;
  }
  int64_t Ns() const override { return real_ += 100; }
  void Arm(int n, std::function<void()> during) {
    until_ = n;
    during_ = std::move(during);
  }
  int tsc_reads() const { return tsc_reads_; }
  void Advance(int64_t ns) { real_ += ns; }
  int64_t now() const { return real_; }
  uint64_t tsc() const { return static_cast<uint64_t>(real_) * 3; }

 private:
  mutable int64_t real_ = 1'000'000'000;
  mutable std::function<void()> during_;
  mutable int until_ = 0, tsc_reads_ = 0;
};

struct TestRing {
  static constexpr uint32_t kSlots = 4;
  alignas(64) uint8_t mem[sizeof(tlbscope_ring) + kSlots * sizeof(tlbscope_ring_record)] = {};
  tlbscope_ring* ring() { return reinterpret_cast<tlbscope_ring*>(mem); }
  // A guest record stamped `tsc`, published.
  void Write(uint64_t vector, uint64_t tsc) {
    auto* slots = reinterpret_cast<tlbscope_ring_record*>(ring() + 1);
    tlbscope_ring_record& r = slots[ring()->head % kSlots];
    r.kind = TLBSCOPE_EV_IPI_RECEIVED;
    r.a[0] = vector;
    r.tsc = tsc;
    __atomic_store_n(&ring()->head, ring()->head + 1, __ATOMIC_RELEASE);
  }
};

// The sequencer is preempted for 8.8 ms just after the last TSC read of a
// pass (whatever it read before); meanwhile vCPU 0's guest writes a record (at +1 ms) and then vCPU
// 1's (at +5 ms). Each is dated where it was written and they come in that
// order (the records used to be dated at the start of the stall: both
// the same time, vCPU 1's ring first).
TEST(PipelineClockTest, RecordsPublishedWhileTheSequencerIsPreemptedKeepTheirTimes) {
  HookClock clock;
  TracePipeline p(2, 64, clock);
  CollectSink sink;
  p.AddSink(&sink);
  TestRing r0, r1;
  p.AddGuestRing(1, r1.ring(), TestRing::kSlots);  // drained first
  p.AddGuestRing(0, r0.ring(), TestRing::kSlots);
  clock.Advance(5'000'000);
  const int before = clock.tsc_reads();
  p.DrainOnce();  // an empty pass: how many TSC reads a pass makes
  const int per_pass = clock.tsc_reads() - before;
  ASSERT_GT(per_pass, 0);
  int64_t t0 = 0, t1 = 0;
  clock.Arm(per_pass, [&] {
    clock.Advance(1'000'000);
    t0 = clock.now();
    r0.Write(0x40, clock.tsc());
    clock.Advance(4'000'000);
    t1 = clock.now();
    r1.Write(0x41, clock.tsc());
    clock.Advance(3'800'000);
  });
  p.DrainOnce();
  clock.Advance(1'000'000);
  p.DrainOnce();
  p.Finish(v1::TraceEnd());
  ASSERT_EQ(sink.all.size(), 2u);
  EXPECT_EQ(sink.all[0].vcpu(), 0u) << "vCPU 0's record was written first";
  EXPECT_EQ(sink.all[1].vcpu(), 1u);
  EXPECT_LT(std::abs(sink.all[0].host_time_ns() - t0), 10'000) << sink.all[0].host_time_ns() - t0;
  EXPECT_LT(std::abs(sink.all[1].host_time_ns() - t1), 10'000) << sink.all[1].host_time_ns() - t1;
}

TEST(PipelineClockTest, ThePairIsTheNarrowestBracket) {
  StallingClock clock;
  TscNsPair pair = ReadTscNsPair(clock);
  // The first try was stalled (a bracket of 8.8 ms); the retry was not.
  EXPECT_LT(pair.tsc_max - (pair.tsc - (pair.tsc_max - pair.tsc)), kGoodBracket);
  EXPECT_LT(std::abs(static_cast<int64_t>(pair.tsc / 3) - pair.ns), 1000);
}

}  // namespace
}  // namespace tlbscope
