#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tlbscope {

// The longest name CheckFileName accepts (well under NAME_MAX = 255, so a
// suffix such as "-smp64" or ".tmp" still fits).
inline constexpr size_t kMaxFileNameLength = 128;

// Checks that `name` can be used as ONE path component below a directory
// tlbscope owns: not empty, not "." or "..", no '/', no control character
// (bytes < 0x20 and 0x7f), at most kMaxFileNameLength bytes. Every name that
// becomes a file or a directory (regress run names, ...) goes through here.
// The error is InvalidArgument "<what> '<name>': <reason>", the name printed
// with its control characters escaped.
absl::Status CheckFileName(std::string_view name, std::string_view what);

// Whether `path` is strictly inside `dir` once both are made absolute and
// normalized (symlinks in existing components resolved). Used before any
// recursive removal.
bool IsStrictlyInside(const std::string& dir, const std::string& path);

}  // namespace tlbscope
