#include "vmm/regress/junit.h"

#include <libxml/xmlwriter.h>

#include <memory>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tlbscope::regress {
namespace {

void QuietXml(void*, const char*, ...) {}

struct WriterFreer {
  void operator()(xmlTextWriterPtr w) const { xmlFreeTextWriter(w); }
};

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

std::string Details(const RunVerdict& v) {
  std::string d = absl::StrFormat(
      "expected: %s\nobserved: %s\ntlbscope exit status: %d\nstop: %s %s\n", ExpectedText(v.spec),
      v.observed_text.empty() ? "(not judged)" : v.observed_text, v.exit_status, v.stop_reason,
      v.stop_message);
  for (const auto& [name, n] : v.violations) d += absl::StrFormat("violation %s: %d\n", name, n);
  if (!v.first_violation.empty()) d += "first: " + v.first_violation + "\n";
  if (!v.failed_checks.empty()) {
    d += "guest checks failed: " + absl::StrJoin(v.failed_checks, ", ") + "\n";
  }
  d += absl::StrFormat("trace: %s\nserial log: %s\ntlbscope log: %s\n", v.trace_path, v.serial_path,
                       v.log_path);
  return d;
}

}  // namespace

absl::Status WriteJunit(const std::string& path, const std::string& suite,
                        const std::vector<RunVerdict>& runs) {
  xmlSetGenericErrorFunc(nullptr, QuietXml);  // the error below says it in one line
  std::unique_ptr<xmlTextWriter, WriterFreer> w(xmlNewTextWriterFilename(path.c_str(), 0));
  if (!w) return absl::InvalidArgumentError(absl::StrFormat("--junit %s: cannot write", path));
  int failures = 0;
  double seconds = 0;
  for (const RunVerdict& v : runs) {
    failures += !v.passed;
    seconds += v.seconds;
  }
  xmlTextWriterSetIndent(w.get(), 1);
  int rc = xmlTextWriterStartDocument(w.get(), nullptr, "UTF-8", nullptr);
  rc |= xmlTextWriterStartElement(w.get(), X("testsuites"));
  rc |= xmlTextWriterStartElement(w.get(), X("testsuite"));
  rc |= xmlTextWriterWriteAttribute(w.get(), X("name"), X(suite.c_str()));
  rc |= xmlTextWriterWriteFormatAttribute(w.get(), X("tests"), "%zu", runs.size());
  rc |= xmlTextWriterWriteFormatAttribute(w.get(), X("failures"), "%d", failures);
  rc |= xmlTextWriterWriteAttribute(w.get(), X("errors"), X("0"));
  rc |= xmlTextWriterWriteFormatAttribute(w.get(), X("time"), "%.3f", seconds);
  for (const RunVerdict& v : runs) {
    rc |= xmlTextWriterStartElement(w.get(), X("testcase"));
    rc |= xmlTextWriterWriteAttribute(w.get(), X("classname"), X(("tlbscope." + suite).c_str()));
    rc |= xmlTextWriterWriteAttribute(w.get(), X("name"), X(v.spec.name.c_str()));
    rc |= xmlTextWriterWriteFormatAttribute(w.get(), X("time"), "%.3f", v.seconds);
    if (!v.passed) {
      std::string msg = absl::StrFormat("%s (trace %s)", v.reason, v.trace_path);
      rc |= xmlTextWriterStartElement(w.get(), X("failure"));
      rc |= xmlTextWriterWriteAttribute(w.get(), X("message"), X(msg.c_str()));
      rc |= xmlTextWriterWriteString(w.get(), X(Details(v).c_str()));
      rc |= xmlTextWriterEndElement(w.get());
    }
    rc |= xmlTextWriterStartElement(w.get(), X("system-out"));
    rc |= xmlTextWriterWriteString(w.get(), X(Details(v).c_str()));
    rc |= xmlTextWriterEndElement(w.get());
    rc |= xmlTextWriterEndElement(w.get());
  }
  rc |= xmlTextWriterEndDocument(w.get());
  if (rc < 0) return absl::InternalError(absl::StrFormat("--junit %s: write failed", path));
  return absl::OkStatus();
}

std::string SummaryTable(const std::vector<RunVerdict>& runs) {
  size_t width = 4;
  for (const RunVerdict& v : runs) width = std::max(width, v.spec.name.size());
  std::string t = absl::StrFormat("%-*s  %-6s  %6s  %-28s  %s\n", static_cast<int>(width), "run",
                                  "result", "time", "expected", "observed / reason");
  int passed = 0;
  for (const RunVerdict& v : runs) {
    passed += v.passed;
    t += absl::StrFormat("%-*s  %-6s  %5.1fs  %-28s  %s\n", static_cast<int>(width), v.spec.name,
                         v.passed ? "pass" : "FAIL", v.seconds, ExpectedText(v.spec),
                         v.passed ? v.observed_text : v.reason);
  }
  t += absl::StrFormat("%d of %zu runs matched their expected verdict\n", passed, runs.size());
  return t;
}

}  // namespace tlbscope::regress
