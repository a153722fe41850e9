#pragma once

// Decompressors for Linux kernel payloads, through the compression
// libraries (zlib, liblzma, liblz4, libzstd).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tlbscope {

enum class Compression { kNone, kGzip, kXz, kLz4Legacy, kZstd, kBzip2, kLzma, kLzo, kUnknown };
const char* CompressionName(Compression c);

// From the magic bytes at the start of `data`; kNone for an ELF.
Compression DetectCompression(std::span<const uint8_t> data);

// Decompresses one stream of `format`. Bytes after the end of the stream
// (Linux appends the uncompressed size as 4 bytes) are ignored. Fails with
// InvalidArgument on corrupt or truncated data, OutOfRange as soon as the
// output passes `max_out` (the expansion stops there).
absl::StatusOr<std::vector<uint8_t>> Decompress(Compression format, std::span<const uint8_t> data,
                                                uint64_t max_out);

}  // namespace tlbscope
