#include "vmm/cli/linux_console.h"

#include <algorithm>
#include <charconv>

#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope {
namespace {

constexpr size_t kMaxLine = 1024;
constexpr size_t kMaxName = 64;
constexpr size_t kMaxCounters = 256;
constexpr size_t kMaxValues = 64;
constexpr size_t kMaxWorkloads = 64;
constexpr size_t kMaxChecks = 1024;
constexpr size_t kMaxDetail = 512;

bool IsName(std::string_view s) {
  if (s.empty() || s.size() > kMaxName) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

template <typename T>
bool ToNumber(std::string_view s, T* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    size_t end = std::min(line.find(' '), line.size());
    out.push_back(line.substr(0, end));
    line.remove_prefix(end);
  }
  return out;
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (!s->starts_with(prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

// "counter vmstat NAME V" / "counter interrupts LABEL V0 V1 ..." into `out`
// ("counter-begin" lines: /init's start).
void ParseCounter(const std::vector<std::string_view>& w, std::vector<LinuxCounter>* out) {
  if (w.size() < 4 || out->size() >= kMaxCounters) return;
  if ((w[1] != "vmstat" && w[1] != "interrupts") || !IsName(w[2])) return;
  if (w[1] == "vmstat" && w.size() != 4) return;
  LinuxCounter c{std::string(w[1]), std::string(w[2]), {}};
  for (size_t i = 3; i < w.size() && c.values.size() < kMaxValues; ++i) {
    uint64_t v;
    if (!ToNumber(w[i], &v)) return;
    c.values.push_back(v);
  }
  out->push_back(std::move(c));
}

// "done NAME PASS|FAIL SECONDS s"
void ParseDone(const std::vector<std::string_view>& w, LinuxConsoleReport* r) {
  if (w.size() != 5 || !IsName(w[1]) || r->workloads.size() >= kMaxWorkloads) return;
  if (w[2] != "PASS" && w[2] != "FAIL") return;
  double secs;
  if (!ToNumber(w[3], &secs) || w[4] != "s") return;
  r->workloads.push_back({std::string(w[1]), w[2] == "PASS", secs});
}

void ParseTlbwork(std::string_view rest, LinuxConsoleReport* r) {
  if (rest.starts_with("init:")) {
    r->seen = true;
    return;
  }
  std::vector<std::string_view> w = Words(rest);
  if (w.empty()) return;
  if (w[0] == "counter") ParseCounter(w, &r->counters);
  if (w[0] == "counter-begin") ParseCounter(w, &r->begin_counters);
  if (w[0] == "done") ParseDone(w, r);
  int status;
  if (w[0] == "exit" && w.size() == 2 && ToNumber(w[1], &status)) r->exit_status = status;
}

// "PASS name: detail" / "FAIL name: detail"
void ParseCheck(std::string_view line, LinuxConsoleReport* r) {
  bool passed = ConsumePrefix(&line, "PASS ");
  if (!passed && !ConsumePrefix(&line, "FAIL ")) return;
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsName(line.substr(0, colon))) return;
  if (r->checks.size() >= kMaxChecks) return;
  std::string_view detail = Strip(line.substr(colon + 1));
  r->checks.push_back(
      {0, std::string(line.substr(0, colon)), passed, std::string(detail.substr(0, kMaxDetail))});
}

}  // namespace

uint64_t LinuxCounter::total() const {
  uint64_t t = 0;
  for (uint64_t v : values) t += v;
  return t;
}

int LinuxConsoleReport::passed() const {
  int n = 0;
  for (const GuestCheck& c : checks) n += c.passed ? 1 : 0;
  return n;
}

int LinuxConsoleReport::failed() const { return static_cast<int>(checks.size()) - passed(); }

const LinuxCounter* LinuxConsoleReport::Find(std::string_view source, std::string_view name,
                                             bool begin) const {
  for (const LinuxCounter& c : begin ? begin_counters : counters) {
    if (c.source == source && c.name == name) return &c;
  }
  return nullptr;
}

LinuxConsoleReport ParseLinuxConsole(std::string_view serial) {
  LinuxConsoleReport r;
  while (!serial.empty()) {
    size_t end = std::min(serial.find('\n'), serial.size());
    std::string_view line = Strip(serial.substr(0, std::min(end, kMaxLine)));
    serial.remove_prefix(std::min(end + 1, serial.size()));
    if (ConsumePrefix(&line, "TLBWORK ")) {
      ParseTlbwork(line, &r);
    } else if (r.seen) {
      ParseCheck(line, &r);
    }
  }
  return r;
}

void PrintLinuxReport(const LinuxConsoleReport& r, std::FILE* out) {
  if (!r.seen) return;
  for (const LinuxWorkloadRun& w : r.workloads) {
    std::fprintf(out, "tlbscope: linux: workload %s %s in %.2f s\n", w.name.c_str(),
                 w.passed ? "passed" : "FAILED", w.seconds);
  }
  std::fprintf(out, "tlbscope: linux: guest checks: %d passed, %d failed\n", r.passed(),
               r.failed());
  std::string line;
  for (const LinuxCounter& c : r.counters) {
    line += line.empty() ? "" : ", ";
    line += c.name + "=" + std::to_string(c.total());
    if (c.values.size() > 1) {
      line += " (";
      for (size_t i = 0; i < c.values.size(); ++i) {
        line += (i ? "/" : "") + std::to_string(c.values[i]);
      }
      line += ")";
    }
  }
  std::fprintf(out, "tlbscope: linux: kernel counters: %s\n",
               line.empty() ? "none printed" : line.c_str());
}

void AddLinuxReport(const LinuxConsoleReport& r, v1::RunResult* pb) {
  if (!r.seen) return;
  for (const LinuxWorkloadRun& w : r.workloads) {
    v1::LinuxWorkloadRun* p = pb->add_linux_workloads();
    p->set_name(w.name);
    p->set_passed(w.passed);
    p->set_seconds(w.seconds);
  }
  for (const LinuxCounter& c : r.counters) {
    v1::LinuxCounter* p = pb->add_linux_counters();
    p->set_source(c.source);
    p->set_name(c.name);
    for (uint64_t v : c.values) p->add_per_cpu(v);
    p->set_total(c.total());
  }
  for (const LinuxCounter& c : r.begin_counters) {
    v1::LinuxCounter* p = pb->add_linux_counters();
    p->set_source(c.source);
    p->set_name(c.name);
    for (uint64_t v : c.values) p->add_per_cpu(v);
    p->set_total(c.total());
    p->set_at_start(true);
  }
  for (const GuestCheck& c : r.checks) {
    v1::GuestCheck* p = pb->add_checks();
    p->set_cpu(c.cpu);
    p->set_name(c.name);
    p->set_passed(c.passed);
    p->set_detail(c.detail);
  }
  pb->set_checks_passed(pb->checks_passed() + r.passed());
  pb->set_checks_failed(pb->checks_failed() + r.failed());
}

}  // namespace tlbscope
