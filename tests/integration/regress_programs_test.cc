// `tlbscope regress` and the program behind it, tlbscope-regress: where
// each finds the other. No KVM needed.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;

// `command` run by the shell: its exit status and its stdout+stderr.
std::pair<int, std::string> Shell(const std::string& command) {
  std::string text;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) text.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

// A copy of `from` at `to` (a hard link where the file system allows).
void Place(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::create_hard_link(from, to, ec);
  if (ec) std::filesystem::copy_file(from, to);
}

// `tlbscope regress` execs tlbscope-regress, a program of its own beside
// tlbscope (so the binary that runs as root links no libvirt, libxml2 or
// toml++); each needs the other in its folder and says so when it is not.
TEST(RegressProgramTest, TlbscopeAndTlbscopeRegressFindEachOtherBesideThem) {
  std::string dir = ::testing::TempDir() + "/regress_programs_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string suite = dir + "/g.toml";
  std::ofstream(suite) << "[[run]]\nname = \"a\"\nexpect = \"clean\"\n";
  std::string bin = std::filesystem::path(TLBSCOPE_BIN).parent_path();
  std::filesystem::create_directories(dir + "/alone");
  std::filesystem::create_directories(dir + "/regress");
  std::string alone = std::filesystem::canonical(dir + "/alone");
  std::string regress = std::filesystem::canonical(dir + "/regress");
  Place(TLBSCOPE_BIN, alone + "/tlbscope");
  Place(bin + "/tlbscope-regress", regress + "/tlbscope-regress");

  auto [status, text] = Shell(alone + "/tlbscope regress " + suite);
  EXPECT_EQ(status, 5) << text;
  EXPECT_EQ(text, "tlbscope regress: error: cannot run " + alone +
                      "/tlbscope-regress: No such file or directory (tlbscope-regress is "
                      "installed beside tlbscope)\n");
  std::tie(status, text) = Shell(regress + "/tlbscope-regress " + suite + " --out " + dir + "/o");
  EXPECT_EQ(status, 5) << text;
  EXPECT_EQ(text, "tlbscope regress: error: cannot run " + regress +
                      "/tlbscope: No such file or directory (each run starts the tlbscope "
                      "installed beside tlbscope-regress)\n");
  EXPECT_FALSE(std::filesystem::exists(dir + "/o"));
  // Listing runs nothing: no tlbscope needed.
  std::tie(status, text) = Shell(regress + "/tlbscope-regress " + suite + " --list");
  EXPECT_EQ(status, 0) << text;
  EXPECT_THAT(text, HasSubstr("a: smp 2, "));
  // The real pair: `tlbscope regress` reaches tlbscope-regress.
  std::tie(status, text) = Shell(std::string(TLBSCOPE_BIN) + " regress " + suite + " --list");
  EXPECT_EQ(status, 0) << text;
  EXPECT_THAT(text, HasSubstr("a: smp 2, "));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tlbscope::testing
