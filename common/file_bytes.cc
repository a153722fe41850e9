#include "common/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "base/unique_fd.h"

namespace tlbscope {

absl::StatusOr<std::vector<uint8_t>> ReadFileBytes(const std::string& path,
                                                   const std::string& what) {
  auto bad = [&](std::string_view detail) {
    return absl::InvalidArgumentError(absl::StrFormat("%s %s: %s", what, path, detail));
  };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return bad(std::strerror(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return bad(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return bad("not a regular file");
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return bad(std::strerror(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  if (bytes.empty()) return bad("file is empty");
  return bytes;
}

}  // namespace tlbscope
