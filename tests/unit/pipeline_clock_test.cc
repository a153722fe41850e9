// The sequencer's order when its own thread is preempted (issue 17 item 6:
// many-mms at smp 64 on a loaded host). A fake clock stalls the sequencer
// 8.8 ms between its TSC read and its clock read, as a scheduler slice
// does: a guest ring record written before a trapped event must still be
// sequenced before it.

#include <gtest/gtest.h>

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

TEST(PipelineClockTest, ThePairIsTheNarrowestBracket) {
  StallingClock clock;
  TscNsPair pair = ReadTscNsPair(clock);
  // The first try was stalled (a bracket of 8.8 ms); the retry was not.
  EXPECT_LT(pair.tsc_max - (pair.tsc - (pair.tsc_max - pair.tsc)), kGoodBracket);
  EXPECT_LT(std::abs(static_cast<int64_t>(pair.tsc / 3) - pair.ns), 1000);
}

}  // namespace
}  // namespace tlbscope
