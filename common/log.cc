#include "common/log.h"

#include <unistd.h>

#include <cerrno>

namespace tlbscope {

void LogLine(std::string_view line) {
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

void LogError(std::string_view command, std::string_view message) {
  std::string line = "tlbscope";
  if (!command.empty()) line.append(" ").append(command);
  line.append(": error: ").append(message);
  LogLine(line);
}

}  // namespace tlbscope
