#include "vmm/trace/proto_text.h"

#include <google/protobuf/stubs/common.h>

#include "absl/strings/str_format.h"

namespace tlbscope {
namespace {

// The length a UTF-8 sequence starting with `lead` claims (1 for ASCII and
// for bytes that cannot start one).
size_t ClaimedLength(unsigned char lead) {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

bool Valid(std::string_view s) {
  return google::protobuf::internal::IsStructurallyValidUTF8(s.data(), static_cast<int>(s.size()));
}

}  // namespace

bool IsUtf8(std::string_view bytes) {
  // The validator protobuf's parsers use; it takes an int length.
  constexpr size_t kChunk = 1 << 30;
  if (bytes.size() <= kChunk) return Valid(bytes);
  return Utf8Escaped(bytes) == bytes;
}

std::string Utf8Escaped(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t n = ClaimedLength(static_cast<unsigned char>(bytes[i]));
    if (n <= bytes.size() - i && Valid(bytes.substr(i, n))) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out += absl::StrFormat("\\x%02x", static_cast<unsigned char>(bytes[i]));
      ++i;
    }
  }
  return out;
}

}  // namespace tlbscope
