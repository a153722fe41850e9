// regress's Judge on a run's outputs (no KVM): the trace replayed gives the
// verdict, and the run's own in-process collector (results.json) must have
// found the same invariants; when they differ the run fails, naming both.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "regress/verdict.h"
#include "tests/collect/synth.h"
#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope::regress {
namespace {

using collect::testing::Synth;

// A flush_done acknowledged by one of its two targets only.
Synth EarlyDone() {
  Synth s;
  s.Cr3(0, 0x1000, true);
  s.Cr3(1, 0x1000, true);
  s.ContextSwitch(0, 1, 7, 0x7000);
  s.Cr3(0, 0x7000);
  s.ContextSwitch(1, 1, 7, 0x7000);
  s.Cr3(1, 0x7000);
  s.FlushRequest(0, 7, 0x400000, 0x401000, 2, 0b11);
  s.IpiSent(0, 1);
  s.Invlpg(0, 0x400000);
  s.FlushFunc(0, 7, 1, 2, 2, 0x400000, 0x401000);
  s.FlushDone(0, 7, 2, 0b01);
  return s;
}

class JudgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tlbscope-judge-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    EarlyDone().WriteTrace((dir_ / "trace").string(), 2);
    v_.out_dir = dir_.string();
    v_.trace_path = (dir_ / "trace").string();
    v_.log_path = (dir_ / "log").string();
    v_.exit_status = 8;
    v_.spec.expect_clean = false;
    v_.spec.expect_violations = {"flush-done-before-acks"};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Results(const std::map<std::string, uint64_t>& in_process) {
    v1::RunResult r;
    r.set_stop_reason("guest-exit");
    for (const auto& [name, n] : in_process)
      (*r.mutable_collector()->mutable_per_invariant())[name] = n;
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(r, &json).ok());
    std::ofstream(dir_ / "results.json") << json;
  }
  std::filesystem::path dir_;
  RunVerdict v_;
};

TEST_F(JudgeTest, AgreeingCollectorsPass) {
  Results({{"flush-done-before-acks", 1}, {"page-freed-while-mapped", 0}});
  Judge(&v_);
  EXPECT_TRUE(v_.passed) << v_.reason;
}

TEST_F(JudgeTest, AnInProcessVerdictThatDiffersFromTheReplayFails) {
  Results({{"flush-done-before-acks", 0}});
  Judge(&v_);
  EXPECT_FALSE(v_.passed);
  EXPECT_EQ(v_.problem, "verdicts-differ");
  EXPECT_EQ(v_.reason,
            "the run's collector found clean, the replay of its trace flush-done-before-acks");
}

}  // namespace
}  // namespace tlbscope::regress
