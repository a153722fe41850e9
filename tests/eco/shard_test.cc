// regress --shard over the default suite (--list: no VM), shards from CI
// environment variables, the balance by baseline times, and regress merge.
#include "regress/shard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "regress/junit.h"
#include "regress/report.h"
#include "tests/eco/process.h"

namespace tlbscope::regress {
namespace {

using ::testing::HasSubstr;

const std::string kSuite = TLBSCOPE_SOURCE_DIR "/suites/default.toml";

// The run names `regress --list` prints (one "NAME: ..." line each).
std::vector<std::string> Listed(const std::string& env_and_args, int* status = nullptr) {
  eco::Output o = eco::Run(env_and_args);
  if (status) *status = o.status;
  std::vector<std::string> names;
  std::istringstream in(o.out);
  for (std::string line; std::getline(in, line);) names.push_back(line.substr(0, line.find(':')));
  return names;
}

std::string Cmd(const std::string& env, const std::string& args) {
  return "env -u CI_NODE_INDEX -u CI_NODE_TOTAL -u JOB_COMPLETION_INDEX -u TLBSCOPE_SHARD_TOTAL " +
         env + " " TLBSCOPE_BIN " regress " + kSuite + " --list " + args;
}

TEST(ShardTest, ThreeShardsOfTheDefaultSuiteAreDisjointAndCoverIt) {
  std::vector<std::string> all = Listed(Cmd("", ""));
  ASSERT_GE(all.size(), 20u);
  std::set<std::string> seen;
  size_t total = 0;
  for (int k = 1; k <= 3; ++k) {
    std::vector<std::string> part = Listed(Cmd("", "--shard " + std::to_string(k) + "/3"));
    EXPECT_GE(part.size(), all.size() / 3) << k;  // balanced: 28 runs -> 10, 9, 9
    EXPECT_LE(part.size(), all.size() / 3 + 1) << k;
    total += part.size();
    for (const std::string& n : part) EXPECT_TRUE(seen.insert(n).second) << n << " twice";
    // The same shard twice is the same list (deterministic).
    EXPECT_EQ(part, Listed(Cmd("", "--shard " + std::to_string(k) + "/3")));
  }
  EXPECT_EQ(total, all.size());
  EXPECT_EQ(seen, std::set<std::string>(all.begin(), all.end()));
}

TEST(ShardTest, GitlabAndKubernetesVariablesChooseTheShard) {
  std::vector<std::string> two = Listed(Cmd("", "--shard 2/3"));
  EXPECT_EQ(Listed(Cmd("CI_NODE_INDEX=2 CI_NODE_TOTAL=3", "")), two);
  EXPECT_EQ(Listed(Cmd("JOB_COMPLETION_INDEX=1 TLBSCOPE_SHARD_TOTAL=3", "")), two);
  EXPECT_EQ(Listed(Cmd("JOB_COMPLETION_INDEX=1", "--shard-total 3")), two);
  // --shard wins over the environment.
  EXPECT_EQ(Listed(Cmd("CI_NODE_INDEX=1 CI_NODE_TOTAL=3", "--shard 2/3")), two);
}

TEST(ShardTest, BadShardsAreOneLineAndStatus2) {
  for (const auto& [env, args, says] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"", "--shard 4/3", "--shard 4/3: must be K/N"},
           {"", "--shard 0/3", "--shard 0/3: must be K/N"},
           {"", "--shard x", "--shard x: must be K/N"},
           {"CI_NODE_INDEX=4 CI_NODE_TOTAL=3", "",
            "CI_NODE_INDEX=4: must be an integer from 1 to 3"},
           {"CI_NODE_INDEX=1", "", "CI_NODE_TOTAL=(unset)"},
           {"JOB_COMPLETION_INDEX=0", "", "give --shard-total N or TLBSCOPE_SHARD_TOTAL"},
           {"JOB_COMPLETION_INDEX=3 TLBSCOPE_SHARD_TOTAL=3", "",
            "JOB_COMPLETION_INDEX=3: must be an integer from 0 to 2"},
           {"", "--shard-total 3", "--shard-total needs JOB_COMPLETION_INDEX"},
       }) {
    eco::Output o = eco::Run(Cmd(env, args));
    EXPECT_EQ(o.status, 2) << env << args;
    EXPECT_EQ(o.out, "");
    EXPECT_THAT(o.err, HasSubstr(says));
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  }
}

std::vector<RunSpec> Specs(int n) {
  std::vector<RunSpec> r(n);
  for (int i = 0; i < n; ++i) r[i].name = "r" + std::to_string(i);
  return r;
}

TEST(ShardTest, BaselineTimesBalanceTheShards) {
  std::vector<RunSpec> runs = Specs(9);
  // Without a baseline: dealt in suite order.
  EXPECT_EQ(AssignShards(runs, 3, nullptr), (std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
  // r0 takes 60 s, r1 and r2 30 s each, the rest 10 s: r0 alone, r1+r2, and the six short ones.
  v1::RegressBaseline b;
  std::map<std::string, double> secs = {{"r0", 60}, {"r1", 30}, {"r2", 30}};
  for (const RunSpec& r : runs) {
    v1::RunBaseline* x = b.add_runs();
    x->set_name(r.name);
    x->set_seconds(secs.contains(r.name) ? secs[r.name] : 10);
  }
  std::vector<int> s = AssignShards(runs, 3, &b);
  std::vector<double> load(3);
  for (size_t i = 0; i < runs.size(); ++i)
    load[s[i]] += secs.contains(runs[i].name) ? secs[runs[i].name] : 10;
  EXPECT_EQ(load, (std::vector<double>{60, 60, 60}));
  // A run the baseline lacks counts as the median (10 s), not as nothing.
  runs.push_back(RunSpec{.name = "new"});
  std::vector<int> s2 = AssignShards(runs, 3, &b);
  EXPECT_EQ(s2.size(), 10u);
}

RunVerdict Verdict(const std::string& name, bool passed, bool error) {
  RunVerdict v;
  v.spec.name = name;
  v.passed = passed;
  v.error = error;
  v.problem = passed ? "" : (error ? "timeout" : "wrong-verdict");
  v.reason = passed ? "" : "because " + name;
  v.observed_text = "clean";
  v.seconds = name.size();
  v.started_unix = 1764860000;
  v.trace_path = "/out/" + name + "/trace";
  v.measured.set_name(name);
  (*v.measured.mutable_counts())["ipi_sent"] = name.size();
  return v;
}

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_ = ::testing::TempDir() + "/eco_merge_" + std::to_string(getpid());
};

TEST_F(MergeTest, ShardReportsMergeIntoTheUnshardedJunit) {
  std::vector<RunSpec> whole = Specs(7);
  std::vector<RunVerdict> all;
  for (size_t i = 0; i < whole.size(); ++i) {
    all.push_back(Verdict(whole[i].name, i % 3 != 1, i == 5));
  }
  std::vector<int> shard_of = AssignShards(whole, 3, nullptr);
  std::vector<std::string> paths;
  std::vector<v1::RegressReport> reports;
  for (int k = 3; k >= 1; --k) {  // any order
    std::vector<RunVerdict> part;
    for (size_t i = 0; i < whole.size(); ++i) {
      if (shard_of[i] == k - 1) part.push_back(all[i]);
    }
    std::string p = dir_ + "/report" + std::to_string(k) + ".json";
    ASSERT_TRUE(WriteReport(p, MakeReport("demo", Shard{k, 3}, whole, part)).ok());
    absl::StatusOr<v1::RegressReport> r = ReadReport(p);
    ASSERT_TRUE(r.ok()) << r.status();
    paths.push_back(p);
    reports.push_back(*r);
  }
  absl::StatusOr<Merged> m = MergeReports(paths, reports);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->runs.size(), 7u);
  JunitSuite js{.name = "demo", .hostname = "h"};
  ASSERT_TRUE(WriteJunit(dir_ + "/merged.xml", js, m->runs).ok());
  ASSERT_TRUE(WriteJunit(dir_ + "/whole.xml", js, all).ok());
  EXPECT_EQ(eco::ReadFile(dir_ + "/merged.xml"), eco::ReadFile(dir_ + "/whole.xml"));
  EXPECT_EQ(SummaryTable(m->runs), SummaryTable(all));

  // A missing shard, a shard twice, another suite: each refused, naming it.
  std::vector<std::string> two(paths.begin(), paths.begin() + 2);
  std::vector<v1::RegressReport> tworep(reports.begin(), reports.begin() + 2);
  EXPECT_THAT(std::string(MergeReports(two, tworep).status().message()),
              HasSubstr("shard 1/3 is missing"));
  two.push_back(paths[0]);
  tworep.push_back(reports[0]);
  EXPECT_THAT(std::string(MergeReports(two, tworep).status().message()),
              HasSubstr("shard 3/3 again"));
  tworep[2].set_suite("other");
  EXPECT_THAT(std::string(MergeReports(two, tworep).status().message()),
              HasSubstr("suite other in 3 shards"));
}

TEST_F(MergeTest, BadMergeInputIsOneLineAndStatus2) {
  std::ofstream(dir_ + "/bad.json") << "{ nope";
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"", "no shard outputs given"},
           {dir_ + "/nothing.json", "nothing.json: cannot read"},
           {dir_ + "/bad.json", "bad.json: not a tlbscope regress report"},
           {dir_ + " --bogus x", "unknown option '--bogus'"}}) {
    eco::Output o = eco::Run(std::string(TLBSCOPE_BIN) + " regress merge " + args);
    EXPECT_EQ(o.status, 2) << args;
    EXPECT_THAT(o.err, HasSubstr(says));
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  }
}

}  // namespace
}  // namespace tlbscope::regress
