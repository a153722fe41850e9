// End to end (KVM): every guest-probe scenario at --smp 2 and 4, correct
// and bug variant, recorded by tlbscope, judged by the collector. The bug
// variant must be reported with its invariant; the correct one clean. The
// in-process collector's verdict (--results) must agree with the replay's.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "collectors/replay_source.h"
#include "collectors/terminal.h"
#include "collectors/tlbcollect_cli.h"
#include "tests/collect/tlbcollect_run.h"
#include "tests/common/text_file.h"
#include "tests/integration/run_helper.h"
#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope::collect::testing {
namespace {

using ::tlbscope::testing::BackgroundTlbscope;
using ::tlbscope::testing::MakeTestTls;
using ::tlbscope::testing::RunTlbscope;
using ::tlbscope::testing::TestTls;

struct Case {
  const char* scenario;
  const char* invariant;  // what the bug variant must be reported with; 0: no bug variant
};

const Case kCases[] = {
    {"lazy-free", "table-freed-while-walkable"},
    {"async-flush", "flush-done-before-acks"},
    {"lam-lazy", "lam-mismatch"},
    {"nested-gather", "nested-gather-underflush"},
    {"unlazy-sync", "unlazy-without-sync-core"},
    {"munmap-storm", nullptr},
    {"mprotect-storm", nullptr},
    {"cs-pingpong", nullptr},
    {"many-mms", nullptr},
    {"shootdown", nullptr},
    {"selftest", nullptr},
};

struct Param {
  Case c;
  int smp;
  bool bug;
};

void PrintTo(const Param& p, std::ostream* os) {
  *os << p.c.scenario << (p.bug ? " bug" : " correct") << " smp " << p.smp;
}

std::string Name(const ::testing::TestParamInfo<Param>& p) {
  std::string n = std::string(p.param.c.scenario) + "_smp" + std::to_string(p.param.smp) +
                  (p.param.bug ? "_bug" : "_correct");
  for (char& ch : n) ch = ch == '-' ? '_' : ch;
  return n;
}

std::vector<Param> Params() {
  std::vector<Param> out;
  for (const Case& c : kCases) {
    for (int smp : {2, 4}) {
      out.push_back({c, smp, false});
      if (c.invariant != nullptr) out.push_back({c, smp, true});
    }
  }
  return out;
}

using ::tlbscope::testing::ReadFile;

std::string Violations(const Collector& c) {
  std::string s;
  for (const Violation& v : c.violations()) s += FormatViolation(v) + "\n";
  return s;
}

class ScenarioCollectTest : public ::testing::TestWithParam<Param> {};

TEST_P(ScenarioCollectTest, BugReportedWithItsInvariantCorrectVariantClean) {
  REQUIRE_KVM();
  const Param& p = GetParam();
  std::string base = ::testing::TempDir() + "/e2e_" + Name({p, 0});
  std::string trace = base + ".trace", results = base + ".results.json";
  std::vector<std::string> args = {
      "run",      "--smp", std::to_string(p.smp), "--scenario", p.c.scenario, "--quiet",
      "--record", trace,   "--results",           results};
  if (p.bug) args.push_back("--inject-bug");
  tlbscope::testing::ProcResult r = RunTlbscope(args, 120);
  // The guest itself fails its check in the bug variant (status 1); a
  // correct run passes, and the in-process collector agrees (else 8).
  EXPECT_EQ(r.exit_code, p.bug ? 1 : 0) << r.err;

  Collector c;
  absl::Status st = Replay(trace, c);
  ASSERT_TRUE(st.ok()) << st;
  if (p.bug) {
    EXPECT_GE(c.per_invariant().at(p.c.invariant), 1u) << "expected " << p.c.invariant << ", got:\n"
                                                       << Violations(c);
    EXPECT_EQ(c.per_invariant().at("flush-without-instruction"), 0u) << Violations(c);
    EXPECT_EQ(c.per_invariant().at("cr3-write-unannounced"), 0u) << Violations(c);
  } else {
    EXPECT_EQ(c.violation_count(), 0u) << Violations(c);
  }
  EXPECT_GT(c.events(), 0u);

  // The in-process collector saw the same stream and says the same.
  v1::RunResult rr;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReadFile(results), &rr).ok());
  EXPECT_TRUE(rr.collector().enabled());
  EXPECT_EQ(rr.collector().violations(), c.violation_count());
  EXPECT_EQ(rr.collector().events(), c.events());
  for (const auto& [name, n] : c.per_invariant()) {
    EXPECT_EQ(rr.collector().per_invariant().at(name), n) << name;
  }
  EXPECT_EQ(rr.collector().verdict(), p.bug ? "violations" : "clean");
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioCollectTest, ::testing::ValuesIn(Params()), Name);

// Other seeds pick other roles and ranges: the verdicts hold.
TEST(ScenarioSeedsTest, VerdictsHoldAcrossSeeds) {
  REQUIRE_KVM();
  for (const char* seed : {"2", "3", "7"}) {
    for (const Case& c : kCases) {
      if (c.invariant == nullptr) continue;
      for (bool bug : {false, true}) {
        std::string trace = ::testing::TempDir() + "/e2e_seed.trace";
        std::vector<std::string> args = {"run",    "--smp", "3",       "--scenario", c.scenario,
                                         "--seed", seed,    "--quiet", "--record",   trace};
        if (bug) args.push_back("--inject-bug");
        tlbscope::testing::ProcResult r = RunTlbscope(args, 120);
        ASSERT_GE(r.exit_code, 0) << r.err;
        Collector col;
        ASSERT_TRUE(Replay(trace, col).ok());
        if (bug) {
          EXPECT_GE(col.per_invariant().at(c.invariant), 1u)
              << c.scenario << " seed " << seed << ":\n"
              << Violations(col);
        } else {
          EXPECT_EQ(col.violation_count(), 0u) << c.scenario << " seed " << seed << ":\n"
                                               << Violations(col);
        }
      }
    }
  }
}

// tlbscope run's in-process collector: the summary on stderr, its files,
// and bad paths or combinations rejected before the guest runs.
TEST(InProcessCollectTest, PrintsTheStateAndWritesItsFiles) {
  REQUIRE_KVM();
  std::string dir = ::testing::TempDir();
  std::string json = dir + "/inproc.json", pf = dir + "/inproc.perfetto.json";
  tlbscope::testing::ProcResult r =
      RunTlbscope({"run", "--smp", "2", "--scenario", "lam-lazy", "--inject-bug", "--quiet",
                   "--collect-json", json, "--collect-perfetto", pf});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("tlbscope: VIOLATION lam-mismatch: mm 2, vcpu"));
  EXPECT_THAT(r.err, ::testing::HasSubstr("tlbscope: collect: vcpu"));
  EXPECT_THAT(r.err,
              ::testing::HasSubstr("tlbscope: collect: verdict: 1 violations: lam-mismatch 1"));
  std::string j = ReadFile(json);
  EXPECT_THAT(j, ::testing::HasSubstr("\"verdict\":\"violations\""));
  EXPECT_THAT(j, ::testing::HasSubstr("\"source\":\"tlbscope run\""));
  EXPECT_THAT(ReadFile(pf), ::testing::HasSubstr("\"name\":\"VIOLATION lam-mismatch\""));

  tlbscope::testing::ProcResult clean =
      RunTlbscope({"run", "--smp", "2", "--scenario", "lam-lazy", "--quiet"});
  EXPECT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_THAT(clean.err, ::testing::HasSubstr("tlbscope: collect: verdict: clean"));
  tlbscope::testing::ProcResult off =
      RunTlbscope({"run", "--smp", "2", "--scenario", "lam-lazy", "--quiet", "--no-collect"});
  EXPECT_EQ(off.exit_code, 0);
  EXPECT_THAT(off.err, ::testing::Not(::testing::HasSubstr("collect:")));

  tlbscope::testing::ProcResult bad_path =
      RunTlbscope({"run", "--quiet", "--collect-json", "/nonexistent-dir/x.json"});
  EXPECT_EQ(bad_path.exit_code, 2);
  EXPECT_THAT(bad_path.err, ::testing::HasSubstr("--collect-json /nonexistent-dir/x.json"));
  tlbscope::testing::ProcResult both =
      RunTlbscope({"run", "--quiet", "--no-collect", "--collect-json", json});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, ::testing::HasSubstr("need the collector"));
  tlbscope::testing::ProcResult missing = RunTlbscope({"run", "--collect-perfetto"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, ::testing::HasSubstr("--collect-perfetto needs a value"));
}

// tlbcollect live against a running tlbscope, with a token: the same
// verdict as a replay; a wrong token is one line and status 3.
TEST(LiveCollectTest, SubscribesWithATokenAndReportsTheBug) {
  REQUIRE_KVM();
  std::string token = ::testing::TempDir() + "/e2e_token", bad = ::testing::TempDir() + "/e2e_bad";
  std::ofstream(token) << "live-token\n";
  std::ofstream(bad) << "wrong\n";
  std::string json = ::testing::TempDir() + "/e2e_live.json";
  BackgroundTlbscope t({"run", "--smp", "2", "--scenario", "lazy-free", "--inject-bug", "--quiet",
                        "--listen", "127.0.0.1:0", "--token-file", token, "--wait-for-subscriber",
                        "--linger", "5"});
  std::string addr = t.WaitForLine("serving TraceService on ");
  CliRun refused = Tlbcollect({"live", addr, "--token-file", bad});
  EXPECT_EQ(refused.status, kExitInput);
  EXPECT_THAT(refused.err, ::testing::HasSubstr("refused the token"));
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  CliRun live = Tlbcollect({"live", addr, "--token-file", token, "--json", json});
  EXPECT_EQ(live.status, kExitViolations) << live.err;
  EXPECT_THAT(live.out, ::testing::HasSubstr("VIOLATION table-freed-while-walkable"));
  EXPECT_THAT(live.out, ::testing::HasSubstr("tlbcollect: vcpu"));
  EXPECT_EQ(t.Wait(), 1) << t.err();
  EXPECT_THAT(ReadFile(json), ::testing::HasSubstr("\"complete\":true"));
}

// Off loopback: TLS and a token. tlbcollect trusts the server's
// certificate with --tls-ca; without it the handshake fails (one line).
TEST(LiveCollectTest, TlsWithACaFile) {
  REQUIRE_KVM();
  TestTls files;
  ASSERT_TRUE(MakeTestTls(::testing::TempDir() + "/e2e_tls", &files))
      << "openssl could not make a test certificate";
  const std::string &key = files.key, &cert = files.cert, &token = files.token;
  BackgroundTlbscope t({"run", "--smp", "2", "--scenario", "nested-gather", "--quiet", "--listen",
                        "0.0.0.0:0", "--tls-cert", cert, "--tls-key", key, "--token-file", token,
                        "--wait-for-subscriber", "--linger", "5"});
  std::string addr = t.WaitForLine("serving TraceService on ");
  std::string port = addr.substr(addr.rfind(':') + 1);
  CliRun plain =
      Tlbcollect({"live", "127.0.0.1:" + port, "--token-file", token, "--connect-timeout", "1"});
  EXPECT_EQ(plain.status, kExitInput);
  EXPECT_EQ(std::count(plain.err.begin(), plain.err.end(), '\n'), 1) << plain.err;
  CliRun tls = Tlbcollect({"live", "127.0.0.1:" + port, "--tls-ca", cert, "--token-file", token});
  EXPECT_EQ(tls.status, kExitClean) << tls.err << tls.out;
  EXPECT_THAT(tls.out, ::testing::HasSubstr("verdict: clean"));
  EXPECT_EQ(t.Wait(), 0) << t.err();
}

}  // namespace
}  // namespace tlbscope::collect::testing
