#include "regress/junit.h"

#include <libxml/xmlwriter.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "regress/xml_text.h"

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

std::string ThisHost() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// ISO 8601 without a zone, as Ant writes it (here: UTC).
std::string IsoTime(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

class Writer {
 public:
  explicit Writer(xmlTextWriterPtr w) : w_(w) {}
  void Start(const char* element) { rc_ |= xmlTextWriterStartElement(w_, X(element)); }
  void End() { rc_ |= xmlTextWriterEndElement(w_); }
  void Attr(const char* name, const std::string& value) {
    rc_ |= xmlTextWriterWriteAttribute(w_, X(name), X(XmlSafe(value).c_str()));
  }
  void Text(const std::string& text) {
    rc_ |= xmlTextWriterWriteString(w_, X(XmlSafe(text).c_str()));
  }
  bool ok() const { return rc_ >= 0; }
  int& rc() { return rc_; }

 private:
  xmlTextWriterPtr w_;
  int rc_ = 0;
};

void WriteCase(Writer& x, const std::string& classname, const RunVerdict& v) {
  x.Start("testcase");
  x.Attr("name", v.spec.name.empty() ? "(unnamed)" : v.spec.name);
  x.Attr("classname", classname);
  x.Attr("time", absl::StrFormat("%.3f", v.seconds));
  if (v.skipped) {
    x.Start("skipped");
    x.Attr("message", v.reason);
    x.End();
  } else if (!v.passed) {
    x.Start(v.error ? "error" : "failure");
    x.Attr("message", absl::StrFormat("%s (trace %s)", v.reason, v.trace_path));
    x.Attr("type", v.problem.empty() ? (v.error ? "error" : "failure") : v.problem);
    x.Text(Details(v));
    x.End();
  }
  x.Start("system-out");
  x.Text(Details(v));
  x.End();
  x.End();
}

}  // namespace

absl::Status WriteJunit(const std::string& path, const JunitSuite& suite,
                        const std::vector<RunVerdict>& runs) {
  xmlSetGenericErrorFunc(nullptr, QuietXml);  // the error below says it in one line
  std::unique_ptr<xmlTextWriter, WriterFreer> w(xmlNewTextWriterFilename(path.c_str(), 0));
  if (!w) return absl::InvalidArgumentError(absl::StrFormat("--junit %s: cannot write", path));
  int failures = 0, errors = 0, skipped = 0;
  double seconds = 0;
  int64_t started = 0;
  for (const RunVerdict& v : runs) {
    failures += Failed(v) && !v.error;
    errors += Failed(v) && v.error;
    skipped += v.skipped;
    seconds += v.seconds;
    if (v.started_unix > 0 && (started == 0 || v.started_unix < started)) started = v.started_unix;
  }
  if (suite.timestamp > 0) started = suite.timestamp;
  if (started == 0) {
    started = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  }
  std::string name = suite.name.empty() ? "tlbscope" : suite.name;
  xmlTextWriterSetIndent(w.get(), 1);
  Writer x(w.get());
  x.rc() |= xmlTextWriterStartDocument(w.get(), nullptr, "UTF-8", nullptr);
  x.Start("testsuites");
  x.Start("testsuite");
  x.Attr("name", name);
  x.Attr("tests", std::to_string(runs.size()));
  x.Attr("failures", std::to_string(failures));
  x.Attr("errors", std::to_string(errors));
  x.Attr("skipped", std::to_string(skipped));
  x.Attr("time", absl::StrFormat("%.3f", seconds));
  x.Attr("timestamp", IsoTime(started));
  x.Attr("hostname", suite.hostname.empty() ? ThisHost() : suite.hostname);
  if (!suite.properties.empty()) {
    x.Start("properties");
    for (const auto& [k, v] : suite.properties) {
      x.Start("property");
      x.Attr("name", k);
      x.Attr("value", v);
      x.End();
    }
    x.End();
  }
  for (const RunVerdict& v : runs) WriteCase(x, "tlbscope." + name, v);
  x.rc() |= xmlTextWriterEndDocument(w.get());
  if (!x.ok()) return absl::InternalError(absl::StrFormat("--junit %s: write failed", path));
  return absl::OkStatus();
}

absl::Status WriteJunit(const std::string& path, const std::string& suite,
                        const std::vector<RunVerdict>& runs) {
  JunitSuite s;
  s.name = suite;
  return WriteJunit(path, s, runs);
}

std::string SummaryTable(const std::vector<RunVerdict>& runs) {
  size_t width = 4;
  for (const RunVerdict& v : runs) width = std::max(width, v.spec.name.size());
  std::string t = absl::StrFormat("%-*s  %-6s  %6s  %-28s  %s\n", static_cast<int>(width), "run",
                                  "result", "time", "expected", "observed / reason");
  int passed = 0, skipped = 0;
  for (const RunVerdict& v : runs) {
    passed += v.passed;
    skipped += v.skipped;
    t += absl::StrFormat("%-*s  %-6s  %5.1fs  %-28s  %s\n", static_cast<int>(width), v.spec.name,
                         v.passed ? "pass" : ResultWord(v), v.seconds, ExpectedText(v.spec),
                         v.passed ? v.observed_text : v.reason);
  }
  t += absl::StrFormat("%d of %zu runs matched their expected verdict%s\n", passed, runs.size(),
                       skipped == 0 ? "" : absl::StrFormat(" (%d skipped)", skipped));
  return t;
}

}  // namespace tlbscope::regress
