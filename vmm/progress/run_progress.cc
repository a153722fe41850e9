#include "vmm/progress/run_progress.h"

#include <cstdio>

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

constexpr auto kRedraw = std::chrono::milliseconds(250);
constexpr size_t kMilestoneChars = 60;

// Linux's printk time stamp, "[    1.234567] ".
std::string_view StripStamp(std::string_view l) {
  if (l.empty() || l[0] != '[') return l;
  size_t close = l.find("] ");
  if (close == std::string_view::npos || close > 16) return l;
  return l.substr(close + 2);
}

std::string Printable(std::string_view l) {
  std::string out;
  for (char c : l) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out.push_back(c);
  }
  return out.substr(0, kMilestoneChars);
}

std::string Count(double n) {
  if (n >= 1e6) return absl::StrFormat("%.1fM", n / 1e6);
  if (n >= 1e4) return absl::StrFormat("%.0fk", n / 1e3);
  return absl::StrFormat("%.0f", n);
}

}  // namespace

std::string MilestoneOf(std::string_view line) {
  std::string_view l = StripStamp(line);
  static constexpr std::string_view kStages[] = {"Linux version",
                                                 "Command line:",
                                                 "smp: Bringing up",
                                                 "smp: Brought up",
                                                 "Freeing unused",
                                                 "Run /",
                                                 "Kernel panic",
                                                 "reboot:",
                                                 "Freeing initrd",
                                                 "Trying to unpack",
                                                 "clocksource: Switched",
                                                 "guest-probe:",
                                                 "PASS ",
                                                 "FAIL ",
                                                 "BUG:",
                                                 "Oops"};
  for (std::string_view s : kStages) {
    if (l.substr(0, s.size()) == s || (s == "BUG:" && l.find(s) != std::string_view::npos)) {
      std::string p = Printable(l);
      while (!p.empty() && p.back() == ' ') p.pop_back();
      return p;
    }
  }
  return "";
}

RunProgress::RunProgress(StatusLine* line, int smp)
    : line_(line), per_vcpu_(static_cast<size_t>(std::max(1, smp))) {}

void RunProgress::OnEvents(const std::vector<v1::Event>& events) {
  for (const v1::Event& e : events) {
    if (e.vcpu() < per_vcpu_.size()) per_vcpu_[e.vcpu()].fetch_add(1, std::memory_order_relaxed);
  }
  events_.fetch_add(events.size(), std::memory_order_relaxed);
}

void RunProgress::ConsoleLine(const std::string& line) {
  if (std::string m = MilestoneOf(line); !m.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    milestone_ = m;
  }
  line_->Above(stdout, line);
}

void RunProgress::Violation(const std::string& line) {
  violations_.fetch_add(1, std::memory_order_relaxed);
  line_->Above(stderr, line);
}

std::string RunProgress::Format(double elapsed_s, double rate) const {
  std::string s = absl::StrFormat("tlbscope: %.1fs, %s events (%s/s);", elapsed_s,
                                  Count(static_cast<double>(events_.load())), Count(rate));
  for (size_t v = 0; v < per_vcpu_.size(); ++v) {
    absl::StrAppendFormat(&s, " v%d %s", v, Count(static_cast<double>(per_vcpu_[v].load())));
  }
  absl::StrAppendFormat(&s, "; %d violations", violations_.load());
  std::lock_guard<std::mutex> l(mu_);
  if (!milestone_.empty()) absl::StrAppendFormat(&s, "; %s", milestone_);
  return s;
}

void RunProgress::Start() {
  start_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { Loop(); });
}

void RunProgress::Loop() {
  uint64_t last_events = 0;
  auto last = start_;
  std::unique_lock<std::mutex> l(mu_);
  while (!cv_.wait_for(l, kRedraw, [this] { return stop_; })) {
    l.unlock();
    auto now = std::chrono::steady_clock::now();
    uint64_t n = events_.load();
    double dt = std::chrono::duration<double>(now - last).count();
    double rate = dt > 0 ? static_cast<double>(n - last_events) / dt : 0;
    last_events = n;
    last = now;
    line_->Draw(Format(std::chrono::duration<double>(now - start_).count(), rate));
    l.lock();
  }
}

void RunProgress::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  line_->Clear();
}

}  // namespace tlbscope
