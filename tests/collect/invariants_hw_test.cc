// The hardware cross-checks, SYNC_CORE and stale reads on synthetic
// traces (the other invariants: invariants_test.cc): a correct stream is
// clean, the historical bug's stream is reported with its invariant.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/collect/synth.h"

namespace tlbscope::collect::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr uint64_t kMm = 2;

Synth Base(int n) { return BootedInto(n, kMm); }

// --- flush-without-instruction, cr3-write-unannounced -------------------------

TEST(HardwareTest, PartialFlushWithoutInvlpgIsReported) {
  Synth s = Base(2);
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000003000, 2, 0b10);
  s.IpiSent(0, 1);
  s.IpiReceived(1);
  s.Invlpg(1, 0x8000001000);  // one page of two
  s.FlushFunc(1, kMm, 1, 2, 2, 0x8000001000, 0x8000003000);
  s.FlushDone(0, kMm, 2, 0b10);
  Collector c;
  EXPECT_THAT(s.Check(&c), ElementsAre("flush-without-instruction"));
  EXPECT_THAT(c.violations()[0].message, ::testing::HasSubstr("1 of 2 pages have no INVLPG"));
}

// A range that ends at 2^64 - 1 (a hostile guest's or a corrupt trace's)
// is checked page by page like any other, and the check ends: the
// addresses used to wrap and the loop ran forever (found by
// tests/fuzz's guest_ring target).
TEST(HardwareTest, PartialFlushUpToTheTopOfTheAddressSpaceEnds) {
  for (uint64_t start : {0xffffffffffff0000ull, 0ull}) {
    Synth s = Base(2);
    s.FlushRequest(0, kMm, start, UINT64_MAX, 2, 0b10);
    s.IpiSent(0, 1);
    s.IpiReceived(1);
    s.FlushFunc(1, kMm, 1, 2, 2, start, UINT64_MAX);
    s.FlushDone(0, kMm, 2, 0b10);
    Collector c;
    if (start == 0) {
      EXPECT_THAT(s.Check(&c), ElementsAre()) << "too many pages to check";
    } else {
      EXPECT_THAT(s.Check(&c), ElementsAre("flush-without-instruction"));
      EXPECT_THAT(c.violations()[0].message, ::testing::HasSubstr("16 of 16 pages"));
    }
  }
}

TEST(HardwareTest, FullFlushWithoutCr3WriteIsReported) {
  Synth s = Base(2);
  s.FlushRequest(0, kMm, 0, kFlushAll, 2, 0b10);
  s.IpiSent(0, 1);
  s.IpiReceived(1);
  s.FlushFunc(1, kMm, 1, 2, 2, 0, kFlushAll, /*full=*/true);
  s.FlushDone(0, kMm, 2, 0b10);
  EXPECT_THAT(s.Check(), ElementsAre("flush-without-instruction"));
}

TEST(HardwareTest, InvpcidCountsAsTheInstruction) {
  Synth s = Base(2);
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000002000, 2, 0b10);
  s.IpiSent(0, 1);
  s.IpiReceived(1);
  s.Invpcid(1, 0, 0x8000001000);
  s.FlushFunc(1, kMm, 1, 2, 2, 0x8000001000, 0x8000002000);
  s.FlushDone(0, kMm, 2, 0b10);
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(HardwareTest, AnnouncedSwitchWithoutItsCr3WriteIsReported) {
  Synth s = Base(1);
  s.ContextSwitch(0, kMm, 3, RootOf(3));
  s.UserEnter(0, 3, 1, 1);
  EXPECT_THAT(s.Check(), ElementsAre("flush-without-instruction"));
}

TEST(HardwareTest, Cr3WriteWithoutOrUnlikeItsAnnouncementIsReported) {
  Synth s = Base(1);
  s.Cr3(0, RootOf(5));  // nothing announces it
  s.ContextSwitch(0, kMm, 3, RootOf(3));
  s.Cr3(0, RootOf(4));  // not what was announced
  Collector c;
  EXPECT_THAT(s.Check(&c), ElementsAre("cr3-write-unannounced", "cr3-write-unannounced"));
  ASSERT_EQ(c.violations().size(), 2u);
  EXPECT_THAT(c.violations()[0].message, ::testing::HasSubstr("0x600000 (rip"));
  EXPECT_THAT(c.violations()[1].message, ::testing::HasSubstr("announced CR3 0x400000"));
}

TEST(HardwareTest, AnnouncementSequencedJustAfterItsWriteIsAccepted) {
  // A guest record published after the sequencer's hold-back lands after
  // the trapped write it announces (seen once at smp 8 on a loaded host);
  // so may the IPI record before a flush's instructions.
  Synth s = Base(2);
  s.Cr3(0, RootOf(3));
  s.ContextSwitch(0, kMm, 3, RootOf(3));
  s.UserEnter(0, 3, 1, 1);
  s.FlushRequest(0, 3, 0x8000001000, 0x8000002000, 2, 0b10);
  s.IpiSent(0, 1);
  v1::Event late = s.events().back();  // a stand-in slot for the late IPI record
  s.Invlpg(1, 0x8000001000);
  s.IpiReceived(1);
  // Stamped before the INVLPG (its time), sequenced after it.
  const_cast<v1::Event&>(s.events().back()).set_host_time_ns(late.host_time_ns() + 10);
  s.FlushFunc(1, 3, 1, 2, 2, 0x8000001000, 0x8000002000);
  s.FlushDone(0, 3, 2, 0b10);
  Collector c;
  EXPECT_THAT(s.Check(&c), IsEmpty());
}

TEST(HardwareTest, BootCr3WritesBeforeTheRingSpeaksAreFine) {
  Synth s;
  s.Cr3(0, RootOf(kInit), /*boot=*/true);
  s.Cr3(0, RootOf(kInit));  // e.g. a kernel without guest rings: nothing to match
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(HardwareTest, UntrappedInstructionsAreNotCrossChecked) {
  // tlbscope run --no-trap: the guest announces switches, nothing is trapped.
  Synth s;
  s.ContextSwitch(0, kInit, kMm, RootOf(kMm));
  s.ContextSwitch(0, kMm, 3, RootOf(3));
  s.FlushFunc(0, 3, 1, 2, 2, 0, kFlushAll, /*full=*/true);
  s.UserEnter(0, 3, 2, 2);
  Collector untrapped;
  v1::TraceHeader h;  // an empty trap plan
  untrapped.SetHeader(h);
  EXPECT_THAT(s.Check(&untrapped), IsEmpty());
  EXPECT_THAT(s.Check(), ElementsAre("flush-without-instruction", "flush-without-instruction",
                                     "flush-without-instruction"));
}

// --- unlazy-without-sync-core ------------------------------------------------

void LazyBackIntoSyncCoreMm(Synth& s, bool serialize) {
  s.Membarrier(0, kMm);
  s.LazyEnter(1, kMm);
  s.ContextSwitch(1, kMm, kMm, 0, /*was_lazy=*/true);
  s.LazyExit(1, kMm, false);
  if (serialize) s.SyncCore(1, kMm);
  s.UserEnter(1, kMm, 1, 1);
}

TEST(SyncCoreTest, UnlazyWithSyncCoreIsClean) {
  Synth s = Base(2);
  LazyBackIntoSyncCoreMm(s, true);
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(SyncCoreTest, UnlazyWithACr3WriteIsClean) {
  Synth s = Base(2);
  s.Membarrier(0, kMm);
  s.LazyEnter(1, kMm);
  s.Shootdown(0, kMm, 0x8000001000, 0x8000002000, 2, 0b01);
  s.ContextSwitch(1, kMm, kMm, RootOf(kMm), /*was_lazy=*/true);
  s.Cr3(1, RootOf(kMm));
  s.LazyExit(1, kMm, true);
  s.UserEnter(1, kMm, 2, 2);
  EXPECT_THAT(s.Check(), IsEmpty());
}

TEST(SyncCoreTest, UnlazyWithoutSerializationIsReported) {
  Synth s = Base(2);
  LazyBackIntoSyncCoreMm(s, false);
  Collector c;
  EXPECT_THAT(s.Check(&c), ElementsAre("unlazy-without-sync-core"));
  EXPECT_THAT(c.violations()[0].vcpus, ElementsAre(1u));
}

// --- stale-read-observed -----------------------------------------------------

TEST(StaleReadTest, AStaleUserReadIsReported) {
  Synth s = Base(2);
  s.Shootdown(0, kMm, 0x8000001000, 0x8000002000, 2, 0b11);
  EXPECT_THAT(s.Check(), IsEmpty());
  s.StaleRead(1, kMm, 0x8000001000);
  EXPECT_THAT(s.Check(), ElementsAre("stale-read-observed"));
}

}  // namespace
}  // namespace tlbscope::collect::testing
