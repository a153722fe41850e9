#include "common/log.h"

#include <unistd.h>

#include <cerrno>

namespace tlbscope {

void LogLine(absl::string_view line) {
  std::string out(line);
  out += '\n';
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(STDERR_FILENO, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr is gone: nothing else to tell
    done += static_cast<size_t>(n);
  }
}

void LogError(absl::string_view command, absl::string_view message) {
  LogLine(absl::StrCat("tlbscope", command.empty() ? "" : " ", command, ": error: ", message));
}

}  // namespace tlbscope
