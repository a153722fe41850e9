// One kernel-payload decompressor (vmm/boot/decompress.h), chosen at build
// time by FUZZ_FORMAT (kGzip, kXz, kLz4Legacy, kZstd): a corrupt, truncated
// or oversized stream is an error, never a crash or an output past the
// bound.

#include <cstdint>
#include <cstdlib>

#include "vmm/boot/decompress.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kMaxOut = 16 << 20;  // lz4 needs 8 MiB for one block
  std::span<const uint8_t> bytes(data, size);
  (void)tlbscope::DetectCompression(bytes);
  absl::StatusOr<std::vector<uint8_t>> out =
      tlbscope::Decompress(tlbscope::Compression::FUZZ_FORMAT, bytes, kMaxOut);
  if (out.ok() && out->size() > kMaxOut) std::abort();
  if (!out.ok() && out.status().message().empty()) std::abort();
  return 0;
}
