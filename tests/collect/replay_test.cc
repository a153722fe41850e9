// The replay path: trace files decoded straight into CEvents, with the
// same errors as tlbscope's ReadTrace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "collectors/replay_source.h"
#include "collectors/trace_decoder.h"
#include "collectors/wire_decode.h"
#include "tests/collect/synth.h"

namespace tlbscope::collect::testing {
namespace {

using ::testing::HasSubstr;

std::string Temp(const std::string& name) { return ::testing::TempDir() + "/collect_" + name; }

Synth EveryKind() {
  Synth s;
  s.Cr3(0, RootOf(kInit), true);
  s.SwitchTo(0, kInit, 2, 1ull << 61, 1ull << 61);
  s.Invlpg(0, 0x8000001000);
  s.Invpcid(0, 2);
  s.FlushRequest(0, 2, 0x8000001000, 0x8000003000, 2, 0b11, true, 21);
  s.IpiSent(0, 1);
  s.IpiReceived(1);
  s.FlushFunc(1, 2, 1, 2, 2, 0x8000001000, 0x8000003000, true, false, true);
  s.FlushDone(0, 2, 2, 0b11);
  s.LazyEnter(0, 2);
  s.LazyExit(0, 2, true);
  s.GatherStart(0, 2, 0x10, 0x20, 3);
  s.GatherEnd(0, 2, 0x10, 0x20, 4, 0xf, 2, true, true, false);
  s.PageFree(0, 2, 0x8000001000, 2);
  s.TableFree(0, 2, 0x7000, 2, 2);
  s.LamSet(0, 2, 1ull << 62);
  s.Membarrier(0, 2);
  s.SyncCore(0, 2);
  s.UserEnter(0, 2, 5, 6, 1ull << 62);
  s.UserExit(0, 2);
  s.StaleRead(0, 2, 0x8000001000);
  s.Cpumask(1, 2, 0b101, 2, true);
  return s;
}

TEST(WireDecodeTest, EveryFieldOfEveryKindSurvives) {
  Synth s = EveryKind();
  const auto& ev = s.events();
  auto at = [&](size_t i) { return FromProto(ev[i]); };
  CEvent cr3 = at(0);
  EXPECT_EQ(cr3.kind, Kind::kCr3Write);
  EXPECT_TRUE(cr3.boot_site);
  EXPECT_EQ(cr3.rip, 0x101000u);
  EXPECT_EQ(cr3.cr3.new_cr3, RootOf(kInit));
  CEvent cs = at(2);
  EXPECT_EQ(cs.kind, Kind::kContextSwitch);
  EXPECT_EQ(cs.cs.next_mm, 2u);
  EXPECT_EQ(cs.cs.cpu_lam, 1ull << 61);
  EXPECT_EQ(cs.cs.mm_lam, 1ull << 61);
  EXPECT_TRUE(cs.cs.need_flush);
  CEvent fr = at(6);
  EXPECT_EQ(fr.kind, Kind::kFlushRequest);
  EXPECT_EQ(fr.flush_request.targets, 0b11u);
  EXPECT_EQ(fr.flush_request.stride_shift, 21u);
  EXPECT_EQ(fr.flush_request.end, 0x8000003000u);
  EXPECT_TRUE(fr.flush_request.freed_tables);
  CEvent ff = at(9);
  EXPECT_EQ(ff.kind, Kind::kFlushFunc);
  EXPECT_EQ(ff.flush_func.local_gen_after, 2u);
  EXPECT_TRUE(ff.flush_func.full && ff.flush_func.not_loaded && !ff.flush_func.lazy_left);
  EXPECT_EQ(at(10).flush_done.acked, 0b11u);
  CEvent ge = at(14);
  EXPECT_EQ(ge.gather_end.levels, 0xfu);
  EXPECT_EQ(ge.gather_end.pending_seen, 2u);
  EXPECT_TRUE(ge.gather_end.nested && ge.gather_end.freed_tables);
  EXPECT_EQ(at(20).user_enter.cpu_lam, 1ull << 62);
  EXPECT_EQ(at(20).user_enter.mm_gen, 6u);
  CEvent cm = at(ev.size() - 1);
  EXPECT_EQ(cm.kind, Kind::kCpumask);
  EXPECT_EQ(cm.cpumask.cpus, 0b101u);
  EXPECT_EQ(cm.cpumask.cpu, 2u);
  EXPECT_EQ(cm.vcpu, 1u);
  EXPECT_EQ(cm.seq, ev.size() - 1);
  EXPECT_EQ(cm.host_ns, ev.back().host_time_ns());
  for (size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(static_cast<int>(at(i).kind), static_cast<int>(ev[i].kind_case())) << i;
  }
}

TEST(WireDecodeTest, MalformedBytesAreRejected) {
  CEvent e;
  const uint8_t bad_varint[] = {0x08, 0xff, 0xff};
  EXPECT_FALSE(DecodeEvent(bad_varint, sizeof bad_varint, &e));
  const uint8_t long_sub[] = {0x82, 0x01, 0x10, 0x01};  // field 16, length 16, 1 byte
  EXPECT_FALSE(DecodeEvent(long_sub, sizeof long_sub, &e));
}

TEST(ReplayTest, AFileGivesTheSameVerdictAsTheEvents) {
  Synth s = EveryKind();
  std::string path = Temp("every.trace");
  s.WriteTrace(path, 2);
  Collector direct, replayed;
  s.Check(&direct);
  ASSERT_TRUE(Replay(path, replayed).ok());
  EXPECT_EQ(replayed.events(), s.events().size());
  EXPECT_TRUE(replayed.complete());
  ASSERT_TRUE(replayed.header().has_value());
  EXPECT_EQ(replayed.header()->vm().smp(), 2u);
  EXPECT_EQ(replayed.per_invariant(), direct.per_invariant());
  EXPECT_GT(replayed.violation_count(), 0u) << "the stale read at least";
}

TEST(ReplayTest, BrokenFilesAreOneLineErrorsAfterTheEventsBeforeTheDamage) {
  Synth s = EveryKind();
  std::string good = Temp("good.trace");
  s.WriteTrace(good, 2);
  std::string bytes;
  {
    std::ifstream f(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  auto write = [](const std::string& p, const std::string& b) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << b;
  };
  struct Case {
    std::string name, bytes, error;
  };
  std::vector<Case> cases = {
      {"empty", "", "empty file, not a tlbscope trace"},
      {"text", "hello world, not a trace\n", "truncated or corrupt"},
      {"truncated", bytes.substr(0, bytes.size() - 20), "truncated or corrupt"},
  };
  for (const Case& c : cases) {
    std::string p = Temp(c.name + ".trace");
    write(p, c.bytes);
    Collector col;
    absl::Status st = Replay(p, col);
    EXPECT_FALSE(st.ok()) << c.name;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.error)) << c.name;
    EXPECT_THAT(std::string(st.message()), HasSubstr(p)) << c.name;
    EXPECT_EQ(std::string(st.message()).find('\n'), std::string::npos);
  }
  // Cut off inside the last event: every earlier event was replayed.
  std::string cut = Temp("cut.trace");
  Synth no_end = EveryKind();
  no_end.WriteTrace(cut, 2, /*with_end=*/false);
  std::string nb;
  {
    std::ifstream f(cut, std::ios::binary);
    nb.assign(std::istreambuf_iterator<char>(f), {});
  }
  write(cut, nb.substr(0, nb.size() - 3));
  Collector col;
  absl::Status st = Replay(cut, col);
  EXPECT_THAT(std::string(st.message()), HasSubstr("truncated or corrupt"));
  EXPECT_EQ(col.events(), s.events().size() - 1);
  EXPECT_EQ(col.per_invariant().at("stale-read-observed"), 1u) << "found before the damage";
  // Clean cut between records: DataLoss, everything replayed.
  no_end.WriteTrace(cut, 2, /*with_end=*/false);
  Collector col2;
  st = Replay(cut, col2);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr(absl::StrCat("cut short after ", s.events().size(), " events")));
  EXPECT_FALSE(col2.complete());
  // Missing file.
  Collector col3;
  st = Replay(Temp("does-not-exist.trace"), col3);
  EXPECT_THAT(std::string(st.message()), HasSubstr("No such file"));
}

// Damaged bytes anywhere (a flipped byte, a huge vCPU index, a wild
// length) end in an error or a verdict, never a crash or a hang.
TEST(ReplayTest, CorruptedTracesNeverCrash) {
  Synth s = EveryKind();
  for (int i = 0; i < 40; ++i) s.Shootdown(i % 2, 2, 0x8000001000, 0x8000003000, 3 + i, 0b11);
  std::string good = Temp("fuzz_good.trace");
  s.WriteTrace(good, 2);
  std::string bytes;
  {
    std::ifstream f(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  uint64_t x = 12345;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::string path = Temp("fuzz.trace");
  int errors = 0;
  for (int round = 0; round < 300; ++round) {
    std::string b = bytes;
    int flips = 1 + static_cast<int>(next() % 4);
    for (int f = 0; f < flips; ++f) b[next() % b.size()] = static_cast<char>(next());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << b;
    Collector c;
    absl::Status st = Replay(path, c);
    errors += st.ok() ? 0 : 1;
    EXPECT_LE(c.events(), s.events().size());
  }
  EXPECT_GT(errors, 0);
  // A vCPU index far beyond any mask is ignored by the model, not indexed.
  Synth big;
  big.Cr3(4000000000u, RootOf(kInit), true);
  big.UserEnter(70, 2, 1, 1);
  big.FlushRequest(5000, 2, 0, kFlushAll, 2, 0b1);
  EXPECT_TRUE(big.Check().empty());
}

}  // namespace
}  // namespace tlbscope::collect::testing
