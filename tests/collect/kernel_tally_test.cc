// KernelTally: a synthetic Linux-shaped stream counted the way
// arch/x86/mm/tlb.c counts /proc/vmstat nr_tlb_*.
#include "collectors/kernel_tally.h"

#include <gtest/gtest.h>

#include "tests/collect/synth.h"

namespace tlbscope::collect::testing {
namespace {

constexpr uint64_t kMm = 2;

TEST(KernelTallyTest, CountsAsLinuxDoes) {
  Synth s = BootedInto(3, kMm);
  // A remote shootdown of 3 pages to vCPUs 1 and 2, vCPU 0 flushing locally:
  // 1 remote flush, 2 received, 3 local one-page flushes.
  s.Shootdown(0, kMm, 0x8000001000, 0x8000004000, 2, 0b111);
  // A full one from vCPU 1 to all three: 1 remote, 2 received, 1 local full.
  s.Shootdown(1, kMm, 0, kFlushAll, 3, 0b111);
  // A local-only ranged flush of 2 huge pages (stride 21): 2 pages.
  s.FlushRequest(2, kMm, 0x8000000000, 0x8000400000, 4, 0b100, false, 21);
  s.FlushFunc(2, kMm, 3, 4, 4, 0x8000000000, 0x8000400000);
  // A local flush_tlb_func already up to date counts nothing.
  s.FlushRequest(2, kMm, 0x8000000000, 0x8000001000, 4, 0b100);
  s.FlushFunc(2, kMm, 4, 4, 4, 0x8000000000, 0x8000001000);
  Collector c;
  s.Check(&c);
  const KernelTally& t = c.kernel_tally();
  EXPECT_EQ(t.remote_sent, 2u);
  EXPECT_EQ(t.remote_received, 4u);
  EXPECT_EQ(t.local_full, 1u);
  EXPECT_EQ(t.local_one_pages, 3u + 2u);
  EXPECT_GT(t.flush_events, 0u);
}

TEST(KernelTallyTest, AMultiCallWhoseRemoteCpusAreAllLazyCountsAsRemote) {
  Synth s = BootedInto(2, kMm);
  s.LazyEnter(1, kMm);
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000002000, 2, 0b01);  // vCPU 1 lazy: no IPI
  s.FlushFunc(0, kMm, 1, 2, 2, 0x8000001000, 0x8000002000);
  Collector c;
  s.Check(&c);
  EXPECT_EQ(c.kernel_tally().remote_sent, 1u);
  EXPECT_EQ(c.kernel_tally().remote_received, 0u);
  EXPECT_EQ(c.kernel_tally().local_one_pages, 1u);
}

TEST(KernelTallyTest, RemoteEarlyReturnsAreReceivedNotLocal) {
  Synth s = BootedInto(2, kMm);
  s.FlushRequest(0, kMm, 0, kFlushAll, 2, 0b10);
  s.IpiSent(0, 1);
  s.IpiReceived(1);
  s.FlushFunc(1, kMm, 1, 1, 2, 0, kFlushAll, false, false, /*not_loaded=*/true);
  Collector c;
  s.Check(&c);
  EXPECT_EQ(c.kernel_tally().remote_received, 1u);
  EXPECT_EQ(c.kernel_tally().local_full, 0u);
}

void Mark(Synth& s, uint32_t v, v1::GuestMark::Mark m) {
  s.Add(v).mutable_guest_mark()->set_mark(m);
}

// The guest's marks around its read of /proc/vmstat keep the counts as the
// read began and ended; what happens after it (pingpong's exit flushing a
// page once more) stays out of the window, as it stays out of the kernel's
// snapshot.
TEST(KernelTallyTest, TheGuestsReadMarksKeepTheCountsOfThatMoment) {
  Synth s = BootedInto(2, kMm);
  s.Shootdown(0, kMm, 0x8000001000, 0x8000002000, 2, 0b11);
  Mark(s, 1, v1::GuestMark::COUNTERS_READ_BEGIN);
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000003000, 3, 0b01);  // while vCPU 1 reads
  s.FlushFunc(0, kMm, 2, 3, 3, 0x8000001000, 0x8000003000);
  Mark(s, 0, v1::GuestMark::COUNTERS_READ_END);                 // the reader moved to vCPU 0
  s.FlushRequest(0, kMm, 0x8000001000, 0x8000002000, 4, 0b01);  // after the read
  s.FlushFunc(0, kMm, 3, 4, 4, 0x8000001000, 0x8000002000);
  Collector c;
  s.Check(&c);
  const KernelTally& t = c.kernel_tally();
  ASSERT_TRUE(t.read_begin.has_value());
  ASSERT_TRUE(t.read_end.has_value());
  EXPECT_EQ(t.read_begin->remote_sent, 1u);
  EXPECT_EQ(t.read_begin->local_one_pages, 1u);
  EXPECT_EQ(t.read_end->local_one_pages, 1u + 2u);
  EXPECT_EQ(t.local_one_pages, 1u + 2u + 1u);
  EXPECT_EQ(t.read_end->remote_sent, 1u);
}

TEST(KernelTallyTest, AnEndWithoutABeginOrABeginWithoutAnEndIsNoWindow) {
  Synth s = BootedInto(2, kMm);
  Mark(s, 0, v1::GuestMark::COUNTERS_READ_END);
  s.Shootdown(0, kMm, 0x8000001000, 0x8000002000, 2, 0b11);
  Mark(s, 0, v1::GuestMark::COUNTERS_READ_BEGIN);
  Mark(s, 0, static_cast<v1::GuestMark::Mark>(200));  // a mark tlbscope does not name
  Collector c;
  s.Check(&c);
  EXPECT_FALSE(c.kernel_tally().read_begin.has_value());
  EXPECT_FALSE(c.kernel_tally().read_end.has_value());
  EXPECT_EQ(c.kernel_tally().remote_sent, 1u);
}

}  // namespace
}  // namespace tlbscope::collect::testing
