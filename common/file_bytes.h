#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tlbscope {

// The whole of a regular, non-empty file. Errors are InvalidArgument:
// "<what> <path>: <reason>", e.g. "kernel /x: No such file or directory".
absl::StatusOr<std::vector<uint8_t>> ReadFileBytes(const std::string& path,
                                                   const std::string& what);

}  // namespace tlbscope
