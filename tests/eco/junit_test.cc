// JUnit XML against docs/schema/junit.xsd (libxml2's XML Schema
// validator), with <error>, <failure> and hostile names.
#include "regress/junit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <unistd.h>

#include <cstdarg>
#include <string>

#include "regress/xml_text.h"
#include "tests/eco/process.h"
#include "tests/eco/xsd.h"

namespace tlbscope::regress {
namespace {

using ::testing::HasSubstr;

int Count(const std::string& path, const std::string& xpath) {
  xmlDocPtr doc = xmlReadFile(path.c_str(), nullptr, XML_PARSE_NONET);
  if (doc == nullptr) return -1;
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathObjectPtr o =
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(xpath.c_str()), ctx);
  int n = o && o->nodesetval ? o->nodesetval->nodeNr : 0;
  xmlXPathFreeObject(o);
  xmlXPathFreeContext(ctx);
  xmlFreeDoc(doc);
  return n;
}

RunVerdict MakeRun(const std::string& name, bool passed, bool error, const std::string& problem,
                   const std::string& reason) {
  RunVerdict v;
  v.spec.name = name;
  v.passed = passed;
  v.error = error;
  v.problem = problem;
  v.reason = reason;
  v.seconds = 1.25;
  v.started_unix = 1764860000;  // 2025-12-04T14:53:20Z
  v.trace_path = "/out/" + name + "/trace";
  return v;
}

class JunitXsdTest : public ::testing::Test {
 protected:
  std::string path_ = ::testing::TempDir() + "/eco_junit_" + std::to_string(getpid()) + ".xml";
  void TearDown() override { ::unlink(path_.c_str()); }
};

TEST_F(JunitXsdTest, ErrorsFailuresAndHostileNamesValidate) {
  std::vector<RunVerdict> runs = {
      MakeRun("fine", true, false, "", ""),
      MakeRun("wrong", false, false, "wrong-verdict", "expected clean, observed lam-mismatch"),
      MakeRun("slow", false, true, "timeout", "the run ended by timeout, not by the guest"),
      MakeRun("ctl\x01\x1b[31m\x7f <&\"> \xff\xfe end", false, true, "no-results",
              std::string("bad\x02 input\0 here", 16)),
  };
  ASSERT_TRUE(WriteJunit(path_, JunitSuite{.name = "demo\x03", .hostname = "ci-7"}, runs).ok());
  EXPECT_EQ(eco::ValidateJunit(path_), "") << eco::ReadFile(path_);
  EXPECT_EQ(Count(path_,
                  "/testsuites/testsuite[@tests='4' and @failures='1' and @errors='2' and "
                  "@hostname='ci-7' and @timestamp='2025-12-04T14:53:20']"),
            1)
      << eco::ReadFile(path_);
  EXPECT_EQ(Count(path_, "//testcase[@name='wrong']/failure[@type='wrong-verdict']"), 1);
  EXPECT_EQ(Count(path_,
                  "//testcase[@name='slow']/error[@type='timeout' and "
                  "contains(@message, 'ended by timeout')]"),
            1);
  EXPECT_EQ(Count(path_,
                  "//testcase[@name='fine' and @time='1.250']/*[self::error or "
                  "self::failure]"),
            0);
  // Control characters and bytes that are not UTF-8 became U+FFFD.
  EXPECT_EQ(Count(path_,
                  "//testcase[@name='ctl\xEF\xBF\xBD\xEF\xBF\xBD[31m\x7f <&\"> "
                  "\xEF\xBF\xBD\xEF\xBF\xBD end']/error"),
            1)
      << eco::ReadFile(path_);
}

TEST_F(JunitXsdTest, TheSchemaRejectsWhatCiWouldMisread) {
  // The XSD is not a rubber stamp: a suite without hostname and a failure
  // without type are refused.
  eco::Output o = eco::Run(
      "printf '%s' '<testsuites><testsuite name=\"x\" tests=\"1\" "
      "failures=\"1\" errors=\"0\" skipped=\"0\" time=\"1\" "
      "timestamp=\"2025-01-01T00:00:00\"><testcase name=\"a\" "
      "classname=\"c\" time=\"1\"><failure message=\"m\"/></testcase>"
      "</testsuite></testsuites>' > " +
      path_);
  ASSERT_EQ(o.status, 0);
  std::string why = eco::ValidateJunit(path_);
  EXPECT_THAT(why, HasSubstr("hostname"));
  EXPECT_THAT(why, HasSubstr("type"));
}

TEST(XmlSafeTest, KeepsTextReplacesWhatXmlCannotHold) {
  EXPECT_EQ(XmlSafe("plain <&> \t\n\r ok"), "plain <&> \t\n\r ok");
  EXPECT_EQ(XmlSafe("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(XmlSafe(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(XmlSafe("\x1b"), "\xEF\xBF\xBD");
  EXPECT_EQ(XmlSafe("\xC3"), "\xEF\xBF\xBD");          // truncated sequence
  EXPECT_EQ(XmlSafe("\xEF\xBF\xBE"), "\xEF\xBF\xBD");  // U+FFFE
}

}  // namespace
}  // namespace tlbscope::regress
