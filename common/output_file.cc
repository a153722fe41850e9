#include "common/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

const char* KindOf(mode_t m) {
  if (S_ISLNK(m)) return "a symlink";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

absl::Status Err(std::string_view flag, const std::string& path, std::string_view why) {
  if (flag.empty()) return absl::FailedPreconditionError(absl::StrFormat("%s: %s", path, why));
  return absl::FailedPreconditionError(absl::StrFormat("%s %s: %s", flag, path, why));
}

}  // namespace

absl::Status CheckOutputPath(std::string_view flag, const std::string& path) {
  if (path.empty()) return Err(flag, path, "empty path");
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Err(flag, path, std::strerror(errno));
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return Err(flag, path, std::strerror(errno));
    return absl::OkStatus();
  }
  if (!S_ISREG(st.st_mode)) {
    return Err(flag, path,
               absl::StrFormat("is %s; tlbscope writes only regular files", KindOf(st.st_mode)));
  }
  if (::access(path.c_str(), W_OK) != 0) return Err(flag, path, std::strerror(errno));
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(std::string_view flag, const std::string& path,
                                 std::string_view text) {
  if (absl::Status s = CheckOutputPath(flag, path); !s.ok()) return s;
  std::string tmp = path + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Err(flag, path, std::strerror(errno));
  ::fchmod(fd, 0644);
  size_t done = 0;
  int err = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return Err(flag, path, absl::StrFormat("write failed: %s", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<OutputFile>> OutputFile::Open(std::string_view flag,
                                                             const std::string& path) {
  if (absl::Status s = CheckOutputPath(flag, path); !s.ok()) return s;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Err(flag, path, std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Err(flag, path, "is not a regular file; tlbscope writes only regular files");
  }
  FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    return Err(flag, path, std::strerror(errno));
  }
  return std::unique_ptr<OutputFile>(new OutputFile(std::string(flag), path, f));
}

OutputFile::~OutputFile() { (void)Close(); }

void OutputFile::Failed(int err) {
  if (status_.ok()) {
    status_ = Err(flag_, path_, absl::StrFormat("write failed: %s", std::strerror(err)));
  }
}

bool OutputFile::Write(const void* data, size_t n) {
  if (!status_.ok() || f_ == nullptr) return false;
  if (std::fwrite(data, 1, n, f_) != n) Failed(errno ? errno : EIO);
  return status_.ok();
}

bool OutputFile::Flush() {
  if (!status_.ok() || f_ == nullptr) return false;
  if (std::fflush(f_) != 0) Failed(errno ? errno : EIO);
  return status_.ok();
}

absl::Status OutputFile::Close() {
  if (f_ != nullptr) {
    errno = 0;
    bool flushed = std::fflush(f_) == 0;
    int ferr = errno;
    if (std::fclose(f_) != 0 && flushed) Failed(errno ? errno : EIO);
    if (!flushed) Failed(ferr ? ferr : EIO);
    f_ = nullptr;
  }
  return status_;
}

}  // namespace tlbscope
