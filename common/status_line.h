#pragma once

#include <cstdio>
#include <mutex>
#include <string>

namespace tlbscope {

// One line at the bottom of a terminal, redrawn in place ("\r", erase to
// the end of the line), with other output printed above it. Off (every
// call does nothing but Above's print) unless enabled, i.e. unless the
// stream is a terminal and the user did not ask for quiet. Thread-safe.
class StatusLine {
 public:
  // `out` is where the line goes (stderr); `enabled` whether to draw at all.
  StatusLine(FILE* out, bool enabled) : out_(out), enabled_(enabled) {}
  ~StatusLine() { Clear(); }

  // stderr is a terminal: what the callers pass as `enabled` (with !quiet).
  static bool IsTerminal(FILE* f);
  // The terminal's width in columns (80 when it cannot say).
  static int Width(FILE* f);

  bool enabled() const { return enabled_; }
  // Draws `text` (cut to the terminal's width) in place of the last line.
  void Draw(const std::string& text);
  // Prints `text` (whole lines) to `to` above the status line, then redraws it.
  void Above(FILE* to, const std::string& text);
  // Removes the line (at the end, before the summary).
  void Clear();

 private:
  void EraseLocked();
  FILE* out_;
  bool enabled_;
  std::mutex mu_;
  std::string shown_;  // what is on screen now ("" when nothing)
  std::string last_;   // the last text drawn (redrawn after Above)
};

}  // namespace tlbscope
