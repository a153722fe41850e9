#include "vmm/trace/pipeline.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/collect_sink.h"
#include "vmm/rpc/retention.h"
#include "vmm/trace/event_ring.h"

namespace tlbscope {
namespace {

TEST(EventRingTest, BoundedFifo) {
  EventRing<int> r(3);
  EXPECT_TRUE(r.TryPush(1));
  EXPECT_TRUE(r.TryPush(2));
  EXPECT_TRUE(r.TryPush(3));
  EXPECT_FALSE(r.TryPush(4)) << "full";
  EXPECT_EQ(r.TryPop(), 1);
  EXPECT_TRUE(r.TryPush(4));
  EXPECT_EQ(r.TryPop(), 2);
  EXPECT_EQ(r.TryPop(), 3);
  EXPECT_EQ(r.TryPop(), 4);
  EXPECT_FALSE(r.TryPop().has_value());
}

using ::tlbscope::test_support::CollectSink;

TEST(TracePipelineTest, MergesRingsInTimeOrderWithGaplessSequences) {
  const int kVcpus = 4, kPer = 5000;
  TracePipeline p(kVcpus, /*ring_capacity=*/64);  // small: producers must wait for it
  CollectSink sink;
  p.AddSink(&sink);
  p.Start();
  std::vector<std::thread> producers;
  for (int v = 0; v < kVcpus; ++v) {
    producers.emplace_back([&p, v] {
      for (int i = 0; i < kPer; ++i) {
        v1::Event e;
        e.mutable_guest_log()->set_text(std::to_string(i));
        p.Append(v, std::move(e));
      }
    });
  }
  for (auto& t : producers) t.join();
  v1::TraceEnd end;
  end.set_stop_reason("guest-exit");
  p.Finish(end);
  ASSERT_EQ(sink.all.size(), static_cast<size_t>(kVcpus * kPer));
  std::vector<uint64_t> next(kVcpus, 0);
  for (size_t i = 0; i < sink.all.size(); ++i) {
    const v1::Event& e = sink.all[i];
    EXPECT_EQ(e.sequence(), i);
    EXPECT_EQ(e.vcpu_sequence(), next[e.vcpu()]++) << "per-vCPU order kept";
    EXPECT_EQ(e.guest_log().text(), std::to_string(e.vcpu_sequence()));
    if (i > 0) EXPECT_GE(e.host_time_ns(), sink.all[i - 1].host_time_ns()) << "time order";
  }
  ASSERT_TRUE(sink.end.has_value());
  EXPECT_EQ(sink.end->events(), static_cast<uint64_t>(kVcpus * kPer));
  TracePipeline::Counters c = p.counters();
  EXPECT_EQ(c.events, static_cast<uint64_t>(kVcpus * kPer));
  EXPECT_EQ(c.per_kind["guest_log"], static_cast<uint64_t>(kVcpus * kPer));
  EXPECT_EQ(c.per_vcpu[3], static_cast<uint64_t>(kPer));
}

TEST(RetentionTest, KeepsTheNewestAndSaysWhatIsGone) {
  Retention r(3);
  std::vector<v1::Event> batch(5);
  for (int i = 0; i < 5; ++i) batch[i].set_sequence(i);
  r.OnEvents(batch);
  Retention::Slice s = r.Read(0, 10, std::chrono::milliseconds(0));
  EXPECT_EQ(s.retained_from, 2u);
  s = r.Read(3, 10, std::chrono::milliseconds(0));
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_EQ(s.events[0].sequence(), 3u);
  EXPECT_EQ(s.next, 5u);
  EXPECT_FALSE(s.ended);
  r.OnEnd(v1::TraceEnd());
  s = r.Read(5, 10, std::chrono::milliseconds(0));
  EXPECT_TRUE(s.ended);
  EXPECT_TRUE(s.events.empty());
}

}  // namespace
}  // namespace tlbscope
