#include "common/bounded_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace tlbscope {

absl::StatusOr<std::string> ReadBoundedFile(std::string_view flag, const std::string& path,
                                            size_t max_bytes) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrFormat("%s %s: %s", flag, path, why));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return bad(std::strerror(errno));
  // Blocking reads from here (a FIFO must still deliver what its writer sends).
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return bad(std::strerror(e));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return bad(absl::StrFormat("larger than %d bytes", max_bytes));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::StatusOr<std::string> ReadTokenFile(std::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> raw = ReadBoundedFile(flag, path, kMaxTokenBytes);
  if (!raw.ok()) return raw.status();
  std::string t(absl::StripAsciiWhitespace(*raw));
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrFormat("%s %s: %s", flag, path, why));
  };
  if (t.empty()) return absl::InvalidArgumentError(absl::StrFormat("%s %s is empty", flag, path));
  for (char c : t) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return bad("the token must be one line of printable ASCII");
  }
  return t;
}

}  // namespace tlbscope
