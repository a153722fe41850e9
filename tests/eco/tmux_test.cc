// The status line as a person sees it: commands run in a tmux pane (a real
// terminal), the bytes they write captured with pipe-pane; and the same
// commands piped, which must print no status line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "tests/eco/process.h"
#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TmuxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (eco::Run("command -v tmux").status != 0) GTEST_FAIL() << "tmux is not installed";
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    eco::Run("tmux -L " + socket_ + " kill-server");
    std::filesystem::remove_all(dir_);
  }
  // Runs `cmd` in a 160x40 tmux pane; returns every byte it wrote to the
  // terminal, and the screen at the end in `screen`.
  std::string InTmux(const std::string& cmd, double timeout_s, std::string* screen) {
    std::string raw = dir_ + "/raw", done = dir_ + "/done";
    std::string tmux = "tmux -L " + socket_ + " ";
    std::ofstream(dir_ + "/cmd.sh") << "sleep 1\n"
                                    << cmd << "\necho EXIT=$? > " << done << "\nsleep 60\n";
    EXPECT_EQ(eco::Run(tmux + "new-session -d -s eco -x 160 -y 40 'sh " + dir_ + "/cmd.sh'").status,
              0);
    EXPECT_EQ(eco::Run(tmux + "pipe-pane -t eco -o 'cat >> " + raw + "'").status, 0);
    auto start = std::chrono::steady_clock::now();
    while (!std::filesystem::exists(done) &&
           std::chrono::steady_clock::now() - start < std::chrono::duration<double>(timeout_s)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // pipe-pane catches up
    *screen = eco::Run(tmux + "capture-pane -p -t eco").out;
    exit_line_ = eco::ReadFile(done);
    return eco::ReadFile(raw);
  }
  std::string dir_ = ::testing::TempDir() + "/eco_tmux_" + std::to_string(getpid());
  std::string socket_ = "eco_tmux_" + std::to_string(getpid());
  std::string exit_line_;
};

// Every distinct status text drawn ("\r\033[K" TEXT "\r").
std::set<std::string> Drawn(const std::string& raw, const std::string& prefix) {
  std::set<std::string> out;
  std::regex re("\r\x1b\\[K(" + prefix + "[^\r\n]*)\r");
  for (auto it = std::sregex_iterator(raw.begin(), raw.end(), re); it != std::sregex_iterator();
       ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

TEST_F(TmuxTest, RegressStatusLineMovesOnATerminalAndNotWhenPiped) {
  // No KVM needed: each run is a real `tlbscope run` that cannot be judged
  // here (no /dev/kvm: an error) or runs (with KVM); either way the status
  // line counts them.
  std::string suite = dir_ + "/s.toml";
  std::ofstream(suite) << "[defaults]\nsmp = 1\ntimeout = 20\n"
                       << "[[run]]\nname = \"a\"\nscenario = \"cs-pingpong\"\nexpect = \"clean\"\n"
                       << "[[run]]\nname = \"b\"\nscenario = \"cs-pingpong\"\nexpect = \"clean\"\n"
                       << "[[run]]\nname = \"c\"\nscenario = \"cs-pingpong\"\nexpect = \"clean\"\n";
  std::string cmd =
      std::string(TLBSCOPE_BIN) + " regress " + suite + " --jobs 1 --out " + dir_ + "/out";
  std::string screen;
  std::string raw = InTmux(cmd, 120, &screen);
  std::set<std::string> drawn = Drawn(raw, "tlbscope regress: ");
  EXPECT_GE(drawn.size(), 3u) << raw;  // 0/3, 1/3, 2/3 done at least
  EXPECT_THAT(raw, HasSubstr("tlbscope regress: 2/3 done"));
  EXPECT_THAT(screen, HasSubstr("runs matched their expected verdict")) << screen;
  EXPECT_THAT(screen, Not(HasSubstr("done ("))) << "the status line is gone at the end";

  eco::Output piped = eco::Run(cmd + " 2>&1 | cat");
  EXPECT_THAT(piped.out, HasSubstr("runs matched their expected verdict"));
  EXPECT_THAT(piped.out, Not(HasSubstr("\x1b[K")));
  EXPECT_THAT(piped.out, Not(HasSubstr("done (")));
}

TEST_F(TmuxTest, RunStatusLineMovesAndEndsWithTheSummary) {
  REQUIRE_KVM();
  std::string cmd =
      std::string(TLBSCOPE_BIN) + " run --smp 2 --scenario munmap-storm --seed 3 --timeout 120";
  std::string screen;
  std::string raw = InTmux(cmd, 180, &screen);
  EXPECT_EQ(exit_line_, "EXIT=0\n") << screen;
  std::set<std::string> drawn = Drawn(raw, "tlbscope: [0-9]");
  EXPECT_GE(drawn.size(), 2u) << "the status line moves: " << raw.substr(0, 2000);
  bool milestone = false;
  for (const std::string& d : drawn) milestone |= d.find("guest-probe:") != std::string::npos;
  EXPECT_TRUE(milestone) << "the last console milestone is shown";
  EXPECT_THAT(screen, HasSubstr("collect: verdict: clean"));
  EXPECT_THAT(screen, Not(HasSubstr(" events ("))) << "the status line is gone at the end";

  eco::Output piped = eco::Run(cmd + " 2>&1 | cat");
  EXPECT_THAT(piped.out, HasSubstr("collect: verdict: clean"));
  EXPECT_THAT(piped.out, Not(HasSubstr("\x1b[K")));
  EXPECT_THAT(piped.out, Not(HasSubstr(" events (")));
}

}  // namespace
}  // namespace tlbscope::testing
