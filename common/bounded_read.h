#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tlbscope {

// Secrets and other small inputs (--token-file, --tls-cert, --tls-key,
// --tls-ca): at most this many bytes.
inline constexpr size_t kMaxSmallFileBytes = 64 * 1024;
// A bearer token: one line.
inline constexpr size_t kMaxTokenBytes = 4096;

// Reads at most `max_bytes` of `path`, whatever it is (a regular file, a
// FIFO, /dev/zero): more than that is an InvalidArgument error
// "<flag> <path>: larger than N bytes", and so is a read error.
absl::StatusOr<std::string> ReadBoundedFile(std::string_view flag, const std::string& path,
                                            size_t max_bytes);

// A bearer token file: at most kMaxTokenBytes, surrounding whitespace
// stripped, not empty, one line, printable ASCII only (it goes into an
// HTTP/2 header).
absl::StatusOr<std::string> ReadTokenFile(std::string_view flag, const std::string& path);

}  // namespace tlbscope
