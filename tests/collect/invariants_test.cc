// Each invariant on a synthetic trace: a correct Linux-shaped stream is
// clean, the historical bug's stream is reported with that invariant.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/collect/synth.h"

namespace tlbscope::collect::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr uint64_t kMm = 2;
constexpr uint64_t kLam57 = 1ull << 61;

Synth Base(int n) { return BootedInto(n, kMm); }

TEST(CatalogTest, EveryInvariantHasANameAndSummary) {
  EXPECT_GE(InvariantCatalog().size(), 7u);
  for (const InvariantInfo& i : InvariantCatalog()) {
    EXPECT_NE(std::string(i.name), "");
    EXPECT_GT(std::string(i.summary).size(), 20u) << i.name;
  }
}

TEST(CleanTraceTest, ShootdownsPartialAndFullAreClean) {
  Synth s = Base(3);
  s.Shootdown(0, kMm, 0x8000001000, 0x8000004000, 2, 0b111);
  s.Shootdown(1, kMm, 0, kFlushAll, 3, 0b111);
  for (int v = 0; v < 3; ++v) s.UserEnter(v, kMm, 3, 3);
  Collector c;
  EXPECT_THAT(s.Check(&c), IsEmpty());
  EXPECT_EQ(c.state().vcpu(2)->LocalGen(kMm), 3u);
  EXPECT_EQ(c.state().mm(kMm)->tlb_gen, 3u);
  EXPECT_EQ(c.state().mm(kMm)->cpumask, 0b111u);
  EXPECT_EQ(c.stats().requests, 2u);
  EXPECT_EQ(c.stats().ff_partial, 3u);
  EXPECT_EQ(c.stats().ff_full, 3u);
  EXPECT_EQ(c.stats().fanout[2], 2u);
  EXPECT_EQ(c.stats().ack_latency_ns.count(), 2u);
  EXPECT_EQ(c.stats().done_latency_ns.count(), 2u);
  EXPECT_EQ(c.state().PendingOn(1), 0);
}

// --- user-return-stale-gen --------------------------------------------------

TEST(UserReturnTest, LazyCpuThatCatchesUpOnSwitchIsClean) {
  Synth s = Base(2);
  s.LazyEnter(1, kMm);
  s.Shootdown(0, kMm, 0x8000001000, 0x8000002000, 2, 0b01);  // lazy vCPU 1 skipped
  s.ContextSwitch(1, kMm, kMm, RootOf(kMm), /*was_lazy=*/true);
  s.Cr3(1, RootOf(kMm));
  s.LazyExit(1, kMm, /*flushed=*/true);
  s.UserEnter(1, kMm, 2, 2);
  Collector c;
  EXPECT_THAT(s.Check(&c), IsEmpty());
  EXPECT_EQ(c.stats().lazy_skipped, 1u);
}

TEST(UserReturnTest, LazyCpuBackInUserWithoutCatchingUpIsReported) {
  Synth s = Base(2);
  s.LazyEnter(1, kMm);
  s.Shootdown(0, kMm, 0x8000001000, 0x8000002000, 2, 0b01);
  uint64_t done = s.events().size() - 1;
  s.ContextSwitch(1, kMm, kMm, 0, /*was_lazy=*/true);
  s.LazyExit(1, kMm, false);
  s.UserEnter(1, kMm, 1, 2);
  Collector c;
  EXPECT_THAT(s.Check(&c), ElementsAre("user-return-stale-gen"));
  const Violation& v = c.violations()[0];
  EXPECT_EQ(v.mm, kMm);
  EXPECT_THAT(v.vcpus, ElementsAre(1u));
  EXPECT_EQ(v.first_seq, done);
  EXPECT_EQ(v.last_seq, s.events().size() - 1);
  EXPECT_THAT(FormatViolation(v), ::testing::HasSubstr("local_gen=1 completed_gen=2"));
}

// --- table-freed-while-walkable ----------------------------------------------

// munmap on vCPU 0 that frees a page table, vCPU 1 lazy in the mm.
void MunmapFreeingTable(Synth& s, uint64_t targets, bool lazy_cpu_flushes) {
  s.GatherStart(0, kMm, 0x8000000000, 0x8000200000, 1);
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000002000, 2, targets, /*freed=*/true);
  if (targets & 2) s.IpiSent(0, 1);
  s.Invlpg(0, 0x8000001000);
  s.FlushFunc(0, kMm, 1, 2, 2, 0x8000001000, 0x8000002000);
  if (lazy_cpu_flushes) {
    s.IpiReceived(1);
    s.ContextSwitch(1, kMm, kInit, RootOf(kInit));
    s.Cr3(1, RootOf(kInit));
    s.LazyExit(1, kMm, true);
    s.FlushFunc(1, kMm, 1, 1, 2, 0x8000001000, 0x8000002000, false, /*lazy_left=*/true);
  }
  s.FlushDone(0, kMm, 2, targets);
  s.PageFree(0, kMm, 0x8000001000, 2);
  s.TableFree(0, kMm, 0x7000, 1, 2);
  s.GatherEnd(0, kMm, 0x8000001000, 0x8000002000, 2, 0x3, 1, false, true, true);
}

TEST(TableFreeTest, LazyCpuInTheCpumaskIsFlushedToInitMm) {
  Synth s = Base(2);
  s.LazyEnter(1, kMm);
  MunmapFreeingTable(s, 0b11, /*lazy_cpu_flushes=*/true);
  Collector c;
  EXPECT_THAT(s.Check(&c), IsEmpty());
  EXPECT_EQ(c.stats().ff_lazy_left, 1u);
  EXPECT_FALSE(c.state().CanWalk(1, kMm));
}

TEST(TableFreeTest, LazyCpuDroppedFromTheCpumaskKeepsTheOldCr3) {
  Synth s = Base(2);
  s.LazyEnter(1, kMm);
  uint64_t lazy = s.events().size() - 1;
  s.Cpumask(1, kMm, 0b01, 1, false);  // the bug: dropped while lazy
  MunmapFreeingTable(s, 0b01, /*lazy_cpu_flushes=*/false);
  Collector c;
  EXPECT_THAT(s.Check(&c), ElementsAre("table-freed-while-walkable"));
  const Violation& v = c.violations()[0];
  EXPECT_THAT(v.vcpus, ElementsAre(1u, 0u));
  EXPECT_EQ(v.first_seq, lazy);
  EXPECT_THAT(v.message, ::testing::HasSubstr("not in the cpumask"));
}

// --- flush-done-before-acks, page-freed-while-mapped -------------------------

TEST(FlushDoneTest, SynchronousShootdownThenFreeIsClean) {
  Synth s = Base(2);
  s.Shootdown(0, kMm, 0x8000001000, 0x8000002000, 2, 0b11);
  s.PageFree(0, kMm, 0x8000001000, 2);
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(FlushDoneTest, AsyncFlushReturnsBeforeTheRemoteFlushRan) {
  Synth s = Base(2);
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000002000, 2, 0b11);
  uint64_t req = s.events().size() - 1;
  s.IpiSent(0, 1);
  s.Invlpg(0, 0x8000001000);
  s.FlushFunc(0, kMm, 1, 2, 2, 0x8000001000, 0x8000002000);
  s.FlushDone(0, kMm, 2, 0b01);
  uint64_t done = s.events().size() - 1;
  s.PageFree(0, kMm, 0x8000001000, 2);
  s.IpiReceived(1);
  s.Invlpg(1, 0x8000001000);
  s.FlushFunc(1, kMm, 1, 2, 2, 0x8000001000, 0x8000002000);
  Collector c;
  EXPECT_THAT(s.Check(&c), ElementsAre("flush-done-before-acks", "page-freed-while-mapped"));
  const Violation& v = c.violations()[0];
  EXPECT_THAT(v.vcpus, ElementsAre(0u, 1u));
  EXPECT_EQ(v.first_seq, req);
  EXPECT_EQ(v.last_seq, done);
  EXPECT_THAT(v.key_seqs, ElementsAre(req, done));
  EXPECT_EQ(c.state().mm(kMm)->flushes.size(), 0u) << "the late ack retires the request";
}

TEST(FlushDoneTest, CrossingRequestsAckTheRightOne) {
  // vCPU 0 and 1 flush the same mm at once (same range): vCPU 1's local
  // flush serves its own request, not vCPU 0's older one still waiting for
  // vCPU 1's IPI (seen in many-mms at smp 4).
  Synth s = Base(2);
  s.FlushRequest(0, kMm, 0, kFlushAll, 2, 0b11);
  s.IpiSent(0, 1);
  s.TargetFlush(0, kMm, 0, kFlushAll, 2, /*remote=*/false);
  s.FlushRequest(1, kMm, 0, kFlushAll, 3, 0b11);
  s.IpiSent(1, 0);
  s.IpiReceived(0);
  s.ContextSwitch(0, kMm, kMm, RootOf(kMm), false, true);
  s.Cr3(0, RootOf(kMm));
  s.FlushFunc(0, kMm, 2, 3, 3, 0, kFlushAll, true);
  s.ContextSwitch(1, kMm, kMm, RootOf(kMm), false, true);
  s.Cr3(1, RootOf(kMm));
  s.FlushFunc(1, kMm, 1, 3, 3, 0, kFlushAll, true);
  s.FlushDone(1, kMm, 3, 0b11);
  s.IpiReceived(1);
  s.FlushFunc(1, kMm, 3, 3, 3, 0, kFlushAll, true);  // already caught up
  s.FlushDone(0, kMm, 2, 0b11);
  Collector c;
  EXPECT_THAT(s.Check(&c), IsEmpty());
  EXPECT_EQ(c.state().mm(kMm)->flushes.size(), 0u);
}

TEST(FlushDoneTest, ARemoteFlushServesTheRequestWhoseIpiArrived) {
  // vCPU 0 asked vCPU 2 first but has not sent its IPI yet; vCPU 1's IPI
  // reached vCPU 2, whose one flush_tlb_func serves vCPU 1 (many-mms, smp 6).
  Synth s = Base(3);
  s.FlushRequest(0, kMm, 0, kFlushAll, 2, 0b101);
  s.FlushRequest(1, kMm, 0, kFlushAll, 3, 0b110);
  s.IpiSent(1, 2);
  s.TargetFlush(1, kMm, 0, kFlushAll, 3, /*remote=*/false);
  s.TargetFlush(2, kMm, 0, kFlushAll, 3, /*remote=*/true);
  s.FlushDone(1, kMm, 3, 0b110);
  s.IpiSent(0, 2);
  s.IpiReceived(2);
  s.FlushFunc(2, kMm, 3, 3, 3, 0, kFlushAll);
  s.TargetFlush(0, kMm, 0, kFlushAll, 3, /*remote=*/false);
  s.FlushDone(0, kMm, 2, 0b101);
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(FlushDoneTest, AnIpiServesARequestSentBeforeItArrived) {
  // Three requests for vCPU 3; vCPU 1 sends its IPI only after vCPU 3
  // received the second one (many-mms, smp 8): that flush serves vCPU 2.
  Synth s = Base(4);
  s.FlushRequest(1, kMm, 0, kFlushAll, 2, 0b1010);
  s.FlushRequest(0, kMm, 0, kFlushAll, 3, 0b1001);
  s.IpiSent(0, 3);
  s.FlushRequest(2, kMm, 0, kFlushAll, 4, 0b1100);
  s.TargetFlush(3, kMm, 0, kFlushAll, 4, /*remote=*/true);  // vCPU 0's IPI
  s.IpiSent(2, 3);
  s.TargetFlush(0, kMm, 0, kFlushAll, 4, false);
  s.FlushDone(0, kMm, 3, 0b1001);
  s.IpiReceived(3);  // vCPU 2's
  s.IpiSent(1, 3);
  s.FlushFunc(3, kMm, 4, 4, 4, 0, kFlushAll);
  s.TargetFlush(2, kMm, 0, kFlushAll, 4, false);
  s.FlushDone(2, kMm, 4, 0b1100);
  s.IpiReceived(3);  // vCPU 1's
  s.FlushFunc(3, kMm, 4, 4, 4, 0, kFlushAll);
  s.TargetFlush(1, kMm, 0, kFlushAll, 4, false);
  s.FlushDone(1, kMm, 2, 0b1010);
  EXPECT_THAT(s.Check(), IsEmpty());
}

// A CPU switching into the mm while a gather runs reads the new tlb_gen
// (incremented before the request's record): its CR3 write flushed the
// unmapped page. One that switched in before the gather and was skipped
// was not flushed.
void FreeWhileAnotherCpuSwitchesIn(Synth& s, bool switch_before_gather) {
  s.Cr3(0, RootOf(kInit), true);
  s.Cr3(1, RootOf(kInit), true);
  s.SwitchTo(0, kInit, kMm);
  if (switch_before_gather) s.SwitchTo(1, kInit, kMm);
  s.GatherStart(0, kMm, 0x8000001000, 0x8000002000, 1);
  if (!switch_before_gather) s.SwitchTo(1, kInit, kMm);
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000002000, 2, 0b01);
  s.Invlpg(0, 0x8000001000);
  s.FlushFunc(0, kMm, 1, 2, 2, 0x8000001000, 0x8000002000);
  s.FlushDone(0, kMm, 2, 0b01);
  s.PageFree(0, kMm, 0x8000001000, 2);
  s.GatherEnd(0, kMm, 0x8000001000, 0x8000002000, 2, 1, 1, false, false, false);
}

TEST(TableFreeTest, SwitchRacingTheRequestIsNotReported) {
  Synth s;
  FreeWhileAnotherCpuSwitchesIn(s, /*switch_before_gather=*/false);
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(TableFreeTest, CpuRunningTheMmLeftOutOfTheFlushIsReported) {
  Synth s;
  FreeWhileAnotherCpuSwitchesIn(s, /*switch_before_gather=*/true);
  EXPECT_THAT(s.Check(), ElementsAre("page-freed-while-mapped"));
}

// --- lam-mismatch ------------------------------------------------------------

void LazyCpuBackAfterLamEnabled(Synth& s, uint64_t cpu_lam_after) {
  s.LazyEnter(1, kMm);
  s.LamSet(0, kMm, kLam57);
  s.ContextSwitch(1, kMm, kMm, 0, /*was_lazy=*/true, false, cpu_lam_after, kLam57);
  s.LazyExit(1, kMm, false);
  s.UserEnter(1, kMm, 1, 1, cpu_lam_after);
}

TEST(LamTest, SwitchBackUpdatesLam) {
  Synth s = Base(2);
  LazyCpuBackAfterLamEnabled(s, kLam57);
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(LamTest, SwitchBackWithUnchangedGenSkipsTheLamUpdate) {
  Synth s = Base(2);
  LazyCpuBackAfterLamEnabled(s, 0);
  Collector c;
  EXPECT_THAT(s.Check(&c), ElementsAre("lam-mismatch"));
  EXPECT_THAT(FormatViolation(c.violations()[0]),
              ::testing::HasSubstr("cpu_lam=0 mm_lam=2305843009213693952"));
}

TEST(LamTest, UserEntryWithTheWrongLamIsReported) {
  Synth s = Base(2);
  s.LamSet(0, kMm, kLam57);
  s.UserEnter(1, kMm, 1, 1, 0);
  EXPECT_THAT(s.Check(), ElementsAre("lam-mismatch"));
}

// --- nested-gather-underflush ------------------------------------------------

void TwoGathers(Synth& s, bool fullmm) {
  s.GatherStart(0, kMm, 0x8000010000, 0x8000020000, 1);
  s.GatherStart(1, kMm, 0x8000030000, 0x8000032000, 2);
  if (fullmm) {
    s.Shootdown(1, kMm, 0, kFlushAll, 2, 0b11, /*freed=*/true);
    s.GatherEnd(1, kMm, 0, kFlushAll, 2, 0xf, 2, true, true, false);
  } else {  // __tlb_reset_range() to its own range, freed_tables = 0
    s.Shootdown(1, kMm, 0x8000030000, 0x8000032000, 2, 0b11);
    s.GatherEnd(1, kMm, 0x8000030000, 0x8000032000, 2, 0x1, 2, true, false, false);
  }
  s.Shootdown(0, kMm, 0x8000010000, 0x8000012000, 3, 0b11);
  s.GatherEnd(0, kMm, 0x8000010000, 0x8000012000, 3, 0x3, 1, false, false, true);
}

TEST(GatherTest, NestedGatherFlushesTheWholeMmWithFreedTables) {
  Synth s = Base(2);
  TwoGathers(s, /*fullmm=*/true);
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(GatherTest, NestedGatherThatResetsItsRangeIsReported) {
  Synth s = Base(2);
  uint64_t first = s.events().size();
  TwoGathers(s, /*fullmm=*/false);
  Collector c;
  EXPECT_THAT(s.Check(&c), ElementsAre("nested-gather-underflush"));
  const Violation& v = c.violations()[0];
  EXPECT_THAT(v.vcpus, UnorderedElementsAre(0u, 1u));
  EXPECT_EQ(v.first_seq, first) << "from the other gather's start";
  EXPECT_THAT(v.message, ::testing::HasSubstr("without freed_tables"));
}

}  // namespace
}  // namespace tlbscope::collect::testing

namespace tlbscope::collect::testing {
namespace {

// Two initiators flush one mm at once, and vCPU 0 serves the newer
// request first: the flush_func's request_tlb_gen says which one it acks,
// so neither flush_done is early. (Ordering by arrival would give vCPU 0's
// first run to the older request and report the newer one as early.)
TEST(FlushDoneTest, CrossingRequestsAreAckedByTheRequestTheyServe) {
  Synth s;
  const uint64_t mm = 5;
  for (uint32_t v = 0; v < 3; ++v) s.SwitchTo(v, kInit, mm);
  auto ff = [&](uint32_t v, uint64_t request, uint64_t gen) {
    v1::FlushFunc* f = s.Add(v).mutable_flush_func();
    f->set_mm(mm);
    f->set_local_gen_before(gen);
    f->set_local_gen_after(gen);
    f->set_mm_gen(gen);
    f->set_end(~0ull);
    f->set_request_tlb_gen(request);
  };
  s.FlushRequest(1, mm, 0, ~0ull, 2, 0b111);
  s.FlushRequest(2, mm, 0, ~0ull, 3, 0b111);
  s.IpiReceived(0);
  ff(0, 3, 1);
  ff(1, 2, 1);
  ff(2, 3, 1);
  ff(1, 3, 1);
  s.FlushDone(2, mm, 3, 0b111);
  s.IpiReceived(0);
  ff(0, 2, 1);
  ff(2, 2, 1);
  s.FlushDone(1, mm, 2, 0b111);
  EXPECT_THAT(s.Check(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace tlbscope::collect::testing
