#pragma once

// tlbscope's lines to the user on stderr, in one format: "tlbscope: what
// happened" for notes while a command runs, "tlbscope CMD: error: what is
// wrong" for the one line a refused command prints before it exits. Each
// call writes one whole line with one write, so lines of threads and of
// the status line never interleave mid-line.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace tlbscope {

// Writes `line` and a newline to stderr in one write.
void LogLine(absl::string_view line);

// "tlbscope: " + the formatted text.
template <typename... Args>
void Log(const absl::FormatSpec<Args...>& format, const Args&... args) {
  LogLine("tlbscope: " + absl::StrFormat(format, args...));
}

// "tlbscope CMD: " + the formatted text: a command's own notes
// ("tlbscope regress: suite ...").
template <typename... Args>
void LogFor(absl::string_view command, const absl::FormatSpec<Args...>& format,
            const Args&... args) {
  LogLine(absl::StrCat("tlbscope ", command, ": ", absl::StrFormat(format, args...)));
}

// "tlbscope CMD: error: MESSAGE" (CMD empty: "tlbscope: error: MESSAGE").
void LogError(absl::string_view command, absl::string_view message);

}  // namespace tlbscope
