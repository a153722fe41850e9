// A kernel knowledge cache file (introspect/knowledge_cache.h) as a run
// reads it from $XDG_CACHE_HOME: arbitrary bytes must be refused with one
// line or decoded into bounded knowledge, never crash. The first byte
// chooses the input: odd, the rest is a cache body sealed with its magic and
// a correct checksum (so the decoder's own checks are reached); even, the
// rest is the file as is.

#include <cstdint>
#include <string>
#include <string_view>

#include "introspect/knowledge_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file =
      (data[0] & 1) ? tlbscope::introspect::SealKnowledgeCache(rest) : std::string(rest);
  absl::StatusOr<tlbscope::introspect::KernelKnowledge> k =
      tlbscope::introspect::DecodeKnowledgeCache(file, "0123abcd", "-;-;");
  if (k.ok()) {
    (void)k->Summary();
    (void)k->symbols.NameAt(0xffffffff81000000ull);
  }
  return 0;
}
