#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tlbscope {

// The one policy for every file tlbscope and tlbcollect write (--record,
// --serial-log, --trap-log, --results, --json, --collect-json, --perfetto,
// --junit, --write-baseline, ...):
//
//  - the path must name a regular file or nothing yet; a symlink, a
//    directory, a device node, a FIFO or a socket is refused (tlbscope runs
//    as root: it never replaces or writes through what it did not create);
//  - every failure (refused path, open, write, close, rename) is an error
//    that names the flag and the path, and the command exits with a failing
//    status (docs: README "Output files").
//
// CheckOutputPath is the first half, on its own so that commands can check
// every output before they start work.
absl::Status CheckOutputPath(std::string_view flag, const std::string& path);

// Writes `text` to `path` through a temporary file in the same directory and
// a rename (readers never see half a file). CheckOutputPath first.
absl::Status WriteFileAtomically(std::string_view flag, const std::string& path,
                                 std::string_view text);

// A file written as a stream (--record, --serial-log, --trap-log). Opened
// with O_NOFOLLOW after CheckOutputPath; Write remembers the first error,
// Close reports it (or the close error).
class OutputFile {
 public:
  static absl::StatusOr<std::unique_ptr<OutputFile>> Open(std::string_view flag,
                                                          const std::string& path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // False once a write failed (and from then on writes are dropped).
  bool Write(const void* data, size_t n);
  bool Flush();
  absl::Status status() const { return status_; }
  absl::Status Close();
  FILE* stream() { return f_; }

 private:
  OutputFile(std::string flag, std::string path, FILE* f)
      : flag_(std::move(flag)), path_(std::move(path)), f_(f) {}
  void Failed(int err);

  std::string flag_, path_;
  FILE* f_;
  absl::Status status_;
};

}  // namespace tlbscope
