#pragma once

#include <cstdio>
#include <mutex>
#include <set>
#include <string>

#include "common/status_line.h"

namespace tlbscope {

// `tlbscope regress`'s progress: a line per finished run (printed above
// the status line, or alone when there is none) and, on a terminal, a
// status line with the runs done (by verdict), running and left.
class RegressProgress {
 public:
  RegressProgress(StatusLine* line, size_t total) : line_(line), total_(total) {}

  enum Outcome { kPass, kFail, kError, kSkip };
  void Started(const std::string& name);
  // `text` is the run's line ("tlbscope regress: ok NAME (1.2 s)\n").
  void Finished(const std::string& name, Outcome outcome, const std::string& text);
  void Done() { line_->Clear(); }

  std::string Format() const;  // the status text

 private:
  void DrawLocked();
  StatusLine* line_;
  size_t total_;
  mutable std::mutex mu_;
  std::set<std::string> running_;
  size_t passed_ = 0, failed_ = 0, errors_ = 0, skipped_ = 0;
};

}  // namespace tlbscope
