#include "common/status_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

namespace tlbscope {

bool StatusLine::IsTerminal(FILE* f) { return ::isatty(::fileno(f)) == 1; }

int StatusLine::Width(FILE* f) {
  winsize ws{};
  if (::ioctl(::fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

void StatusLine::EraseLocked() {
  if (shown_.empty()) return;
  std::fputs("\r\033[K", out_);
  shown_.clear();
}

void StatusLine::Draw(const std::string& text) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> l(mu_);
  last_ = text;
  // One column short of the width: writing the last column would wrap.
  std::string cut = text.substr(0, static_cast<size_t>(std::max(1, Width(out_) - 1)));
  std::fputs("\r\033[K", out_);
  std::fputs(cut.c_str(), out_);
  // The cursor goes back to the start of the line: a line someone else
  // prints meanwhile starts there instead of after the status.
  std::fputc('\r', out_);
  std::fflush(out_);
  shown_ = cut.empty() ? " " : cut;
}

void StatusLine::Above(FILE* to, const std::string& text) {
  if (!enabled_) {
    std::fputs(text.c_str(), to);
    std::fflush(to);
    return;
  }
  std::string again;
  {
    std::lock_guard<std::mutex> l(mu_);
    EraseLocked();
    std::fflush(out_);
    std::fputs(text.c_str(), to);
    std::fflush(to);
    again = last_;
  }
  if (!again.empty()) Draw(again);
}

void StatusLine::Clear() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> l(mu_);
  EraseLocked();
  std::fflush(out_);
}

}  // namespace tlbscope
