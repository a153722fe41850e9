#pragma once

#include <cstdio>
#include <memory>

namespace tlbscope {

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};

// Owns one stdio stream. Where a close can fail (a file being written),
// close it explicitly to see the error: `std::fclose(file.release())`.
using UniqueFile = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace tlbscope
