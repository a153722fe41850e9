#pragma once

// proto3 `string` fields must hold UTF-8: a parser (tlbscope's own trace
// reader, tlbcollect, any gRPC client) rejects the whole message otherwise.
// A kernel path or a command line is bytes (a Linux file name may be any
// bytes but '/' and NUL), so it is stored twice when it is not UTF-8: the
// `string` field holds a readable, escaped form and a `bytes` field beside
// it (path_bytes, cmdline_bytes, ...) the exact bytes. For UTF-8 values
// (all but a few) the `bytes` field stays empty and nothing changes.

#include <string>
#include <string_view>

namespace tlbscope {

bool IsUtf8(std::string_view bytes);

// `bytes` unchanged when it is UTF-8; else every byte of an invalid
// sequence is written as \xNN (the rest is kept as it is).
std::string Utf8Escaped(std::string_view bytes);

// Sets a string field and its bytes twin, e.g.
//   SetTextAndBytes(bytes, [&](auto s) { m.set_path(s); },
//                   [&](auto b) { m.set_path_bytes(b); });
template <typename SetText, typename SetBytes>
void SetTextAndBytes(std::string_view bytes, SetText set_text, SetBytes set_bytes) {
  if (IsUtf8(bytes)) {
    set_text(std::string(bytes));
  } else {
    set_text(Utf8Escaped(bytes));
    set_bytes(std::string(bytes));
  }
}

}  // namespace tlbscope
