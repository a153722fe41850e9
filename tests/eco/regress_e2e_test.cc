// tlbscope regress end to end, with or without KVM (without, every run is a
// real `tlbscope run` that cannot be judged: an <error>): three shards of a
// suite merged are the unsharded run, case for case, and every JUnit file
// passes docs/schema/junit.xsd.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/eco/process.h"
#include "tests/eco/xsd.h"

namespace tlbscope::eco {
namespace {

using ::testing::HasSubstr;

// "name:outcome:type" per testcase, in file order.
std::string Cases(const std::string& xml) {
  std::regex re(
      "<testcase name=\"([^\"]+)\"[^>]*>\\s*(<(failure|error) message=\"[^\"]*\" "
      "type=\"([^\"]*)\")?");
  std::string out;
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), re); it != std::sregex_iterator();
       ++it) {
    out += (*it)[1].str() + ":" +
           ((*it)[3].matched ? (*it)[3].str() + ":" + (*it)[4].str() : "pass") + "\n";
  }
  return out;
}

TEST(RegressEndToEndTest, MergedShardsEqualTheUnshardedRunAndValidate) {
  std::string dir = ::testing::TempDir() + "/eco_e2e_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::string suite = dir + "/s.toml";
  std::ofstream(suite) << "[defaults]\nsmp = 1\ntimeout = 30\n"
                       << "[[run]]\nname = \"p1\"\nscenario = \"cs-pingpong\"\nexpect = \"clean\"\n"
                       << "[[run]]\nname = \"p2\"\nscenario = \"many-mms\"\nexpect = \"clean\"\n"
                       << "[[run]]\nname = \"p3\"\nscenario = \"lam-lazy\"\nsmp = 2\n"
                       << "variant = \"bug\"\nexpect = [\"lam-mismatch\"]\n"
                       << "[[run]]\nname = \"p4\"\nscenario = \"lam-lazy\"\nsmp = 2\n"
                       << "variant = \"bug\"\nexpect = \"clean\"\n";
  std::string bin = std::string(TLBSCOPE_BIN) + " regress ";
  Output whole =
      eco::Run(bin + suite + " --jobs 2 --out " + dir + "/whole --junit " + dir + "/whole.xml");
  EXPECT_EQ(whole.status, 1) << whole.out << whole.err;  // p4 cannot match (or cannot run)
  for (int k = 1; k <= 3; ++k) {
    Output part =
        eco::Run(bin + suite + " --jobs 2 --shard " + std::to_string(k) + "/3 --out " + dir + "/s" +
                 std::to_string(k) + " --junit " + dir + "/s" + std::to_string(k) + ".xml");
    EXPECT_THAT(part.err, HasSubstr("(shard " + std::to_string(k) + "/3 of 4, from --shard)"));
    EXPECT_EQ(ValidateJunit(dir + "/s" + std::to_string(k) + ".xml"), "");
  }
  Output merged =
      eco::Run(bin + "merge " + dir + "/s2 " + dir + "/s3 " + dir + "/s1/report.json --junit " +
               dir + "/merged.xml --write-baseline " + dir + "/base.json");
  EXPECT_EQ(merged.status, 1) << merged.err;
  EXPECT_THAT(merged.err, HasSubstr("suite s, 3 shards, 4 runs"));
  std::string want = Cases(ReadFile(dir + "/whole.xml"));
  EXPECT_THAT(want, HasSubstr("p1:"));
  EXPECT_THAT(want, HasSubstr("p4:"));
  EXPECT_EQ(std::count(want.begin(), want.end(), '\n'), 4) << want;
  EXPECT_EQ(Cases(ReadFile(dir + "/merged.xml")), want);
  EXPECT_EQ(ValidateJunit(dir + "/whole.xml"), "");
  EXPECT_EQ(ValidateJunit(dir + "/merged.xml"), "");
  // The summary tables list the same runs with the same results.
  auto rows = [](const std::string& table) {
    std::string out;
    std::istringstream in(table);
    for (std::string line; std::getline(in, line);)
      out += line.substr(0, line.find("  ", 4)) + "\n";
    return out;
  };
  EXPECT_EQ(rows(merged.out).size(), rows(whole.out).size());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tlbscope::eco
