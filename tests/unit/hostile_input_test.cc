// Hostile input without KVM: names that become files, the output-file
// policy, bounded reads of input files, regress run folders.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/bounded_read.h"
#include "common/file_names.h"
#include "common/output_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vmm/regress/runner.h"
#include "vmm/regress/suite.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/hostile_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
           std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST(FileNameTest, OneComponentOnly) {
  EXPECT_TRUE(CheckFileName("lazy-free-smp4", "run name").ok());
  EXPECT_TRUE(CheckFileName("a.b", "run name").ok());
  EXPECT_TRUE(CheckFileName("..x", "run name").ok());
  struct {
    std::string name, why;
  } bad[] = {{"", "is empty"},
             {".", "not a usable file name"},
             {"..", "not a usable file name"},
             {"../../x", "contains '/'"},
             {"a/b", "contains '/'"},
             {"/etc", "contains '/'"},
             {"a\nb", "control character"},
             {std::string("a\0b", 3), "control character"},
             {"a\x7f", "control character"},
             {std::string(129, 'x'), "longer than 128 bytes"}};
  for (const auto& b : bad) {
    absl::Status s = CheckFileName(b.name, "run name");
    ASSERT_FALSE(s.ok()) << b.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr(b.why)) << b.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr("run name '"));
    EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos) << "one line";
  }
}

TEST_F(HostileTest, InsideMeansStrictlyBelowEvenThroughSymlinks) {
  std::filesystem::create_directories(dir_ + "/out/a");
  EXPECT_TRUE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/a"));
  EXPECT_TRUE(IsStrictlyInside(dir_ + "/out/", dir_ + "/out/new"));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out"));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/."));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/.."));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/../../x"));
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/outer"));
  std::filesystem::create_directory_symlink(dir_, dir_ + "/out/up");
  EXPECT_FALSE(IsStrictlyInside(dir_ + "/out", dir_ + "/out/up"));
}

TEST(SuiteNamesTest, NamesThatAreNotOneFileNameRefuseTheSuite) {
  for (const char* name : {"..", "../../x", "a/b", ".", "a\\u0001b"}) {
    std::string text = absl::StrCat("[[run]]\nname = \"", name, "\"\nexpect = \"clean\"\n");
    absl::StatusOr<regress::Suite> s = regress::ParseSuite(text, "s.toml");
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("suite s.toml:1: run name '")) << name;
  }
}

// A suite that bypassed ParseSuite (a caller building runs itself) still
// cannot make the runner remove anything outside --out.
TEST_F(HostileTest, TheRunnerNeverRemovesOutsideOut) {
  std::ofstream(dir_ + "/precious") << "keep me\n";
  std::filesystem::create_directories(dir_ + "/out");
  regress::Suite suite;
  for (const char* name : {"..", "../../x", "a/b", "."}) {
    regress::RunSpec r;
    r.name = name;
    r.timeout_s = 5;
    suite.runs.push_back(r);
  }
  regress::RunnerOptions o;
  o.out_dir = dir_ + "/out";
  o.progress = false;
  o.tlbscope = "/bin/true";
  std::vector<regress::RunVerdict> v = regress::RunSuite(suite, o);
  ASSERT_EQ(v.size(), 4u);
  for (const regress::RunVerdict& one : v) {
    EXPECT_FALSE(one.passed) << one.spec.name;
    EXPECT_THAT(one.reason, HasSubstr("run name '")) << one.spec.name;
  }
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/precious"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/out/a"));
}

}  // namespace
}  // namespace tlbscope
