// --version on tlbscope (every command) and tlbcollect.
#include "version/version.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "collectors/tlbcollect_cli.h"
#include "tests/eco/process.h"
#include "vmm/trace/trace_reader.h"

namespace tlbscope {
namespace {

using ::testing::MatchesRegex;

constexpr char kLine[] =
    "tlbscope 0\\.1\\.0 \\(git [-.0-9a-zA-Z]+, proto schema 1, tlbscope\\.v1\\)\n";

TEST(VersionTest, EveryTlbscopeCommandPrintsIt) {
  for (const std::string& args :
       {"--version", "version", "run --version", "run --smp 2 --version", "regress --version",
        "sites --version", "probe-host --version", "trace-info --version", "help --version"}) {
    eco::Output o = eco::Run(std::string(TLBSCOPE_BIN) + " " + args);
    EXPECT_EQ(o.status, 0) << args;
    EXPECT_THAT(o.out, MatchesRegex(kLine)) << args;
  }
}

TEST(VersionTest, CmdlineValueIsNotTheFlag) {
  // `--cmdline --version` passes "--version" to the kernel: run parses it
  // (and here fails on the missing kernel), it does not print the version.
  eco::Output o =
      eco::Run(std::string(TLBSCOPE_BIN) + " run --kernel /nonexistent --cmdline --version");
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.out, "");
}

TEST(VersionTest, Tlbcollect) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, {"replay", "x", "--version"}}) {
    FILE* out = std::tmpfile();
    EXPECT_EQ(collect::RunTlbcollect(args, out, stderr), 0);
    std::string text = eco::ReadAll(out);
    EXPECT_EQ(text, VersionText("tlbcollect"));
    EXPECT_THAT(text, MatchesRegex("tlbcollect 0\\.1\\.0 \\(git .*, proto schema 1, .*\n"));
  }
}

TEST(VersionTest, SchemaIsTheTraceSchema) {
  EXPECT_EQ(kProtoSchemaVersion, kTraceSchemaVersion);
  std::string rev = GitRevision();
  EXPECT_FALSE(rev.empty());
  // Built from this git tree: the revision names a commit git knows.
  if (rev != "unknown") {
    std::string hash = rev.substr(0, rev.find('-'));
    eco::Output o = eco::Run("git -C " TLBSCOPE_SOURCE_DIR " cat-file -t " + hash);
    EXPECT_EQ(o.out, "commit\n") << rev;
  }
}

}  // namespace
}  // namespace tlbscope
