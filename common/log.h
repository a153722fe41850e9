#pragma once

// tlbscope's lines to the user on stderr, in one format: "tlbscope: what
// happened" for notes while a command runs, "tlbscope CMD: error: what is
// wrong" for the one line a refused command prints before it exits. Each
// call writes one whole line with one write, so lines of threads and of
// the status line never interleave mid-line.

#include <string>
#include <string_view>

#include "absl/strings/str_format.h"

namespace tlbscope {

// Writes `line` and a newline to stderr in one write.
void LogLine(std::string_view line);

// "tlbscope: " + the formatted text.
template <typename... Args>
void Log(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine("tlbscope: " + absl::StrFormat(format, args...));
}

// "tlbscope CMD: error: MESSAGE" (CMD empty: "tlbscope: error: MESSAGE").
void LogError(std::string_view command, std::string_view message);

}  // namespace tlbscope
