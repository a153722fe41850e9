#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status_line.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope {

// The last kernel milestone a console line announces ("" if it announces
// none): Linux's boot stages (version, command line, CPU bring-up, init,
// panic, reboot) and guest-probe's own lines (its banner, PASS/FAIL
// checks). The line comes back without Linux's "[    1.234567] " stamp,
// control characters dropped (the console is the guest's).
std::string MilestoneOf(std::string_view line);

// `tlbscope run`'s status line on a terminal: elapsed time, events per
// second, events per vCPU, violations so far and the last kernel milestone
// seen on the console, redrawn four times a second. An EventSink on the
// pipeline (counts only), the console's writer (each line printed above the
// status line) and the printer of the collector's violation lines.
class RunProgress : public EventSink {
 public:
  RunProgress(StatusLine* line, int smp);
  ~RunProgress() override { Stop(); }

  void OnEvents(const std::vector<v1::Event>& events) override;
  void OnEnd(const v1::TraceEnd&) override {}
  void ConsoleLine(const std::string& line);  // a whole console line, '\n' included
  void Violation(const std::string& line);    // a VIOLATION line for stderr

  void Start();
  void Stop();  // stops redrawing and removes the line

  // The status text at `elapsed_s`, `rate` events per second.
  std::string Format(double elapsed_s, double rate) const;

 private:
  void Loop();
  StatusLine* line_;
  std::atomic<uint64_t> events_{0}, violations_{0};
  std::vector<std::atomic<uint64_t>> per_vcpu_;
  mutable std::mutex mu_;
  std::string milestone_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tlbscope
