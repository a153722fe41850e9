#pragma once

// The one way every command (tlbscope run / regress / trace-info ...,
// tlbcollect) declares and parses its options: CLI11, one declaration per
// option giving parsing, checks and help, with errors in the project's
// wording (one line naming the option; the caller prints it and exits 2).

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"

namespace tlbscope::cli {

// Gives `app` the project's conventions: no built-in help (the command
// declares -h/--help as a flag so other options still parse), no flag
// values (`--quiet=no` is an error, not silently "yes"), the last of a
// repeated option wins, left-over arguments reported by ParseArgs as an
// unknown option.
void Configure(CLI::App& app);

// Parses `args` (without the program and command names). Errors are
// InvalidArgument, one line: "unknown option '--x'", "--kernel needs a
// value", "--smp: 'four' is not a valid number", or the option's own check.
absl::Status ParseArgs(CLI::App& app, const std::vector<std::string>& args);

// Parses a command's arguments the way every command ends them: bad usage
// prints "tlbscope CMD: error: ..." (one line) and gives 2; -h/--help (the
// command declares it) prints the help to stdout and gives 0; nullopt: the
// command goes on.
std::optional<int> ParseCommandArgs(CLI::App& app, const std::vector<std::string>& args,
                                    absl::string_view command);

// The text is a whole number of type T (from_chars: no sign for unsigned,
// no blanks, nothing after it), else "'TEXT' is not a valid number".
template <typename T>
absl::StatusOr<T> ParseNumber(const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return absl::InvalidArgumentError(absl::StrFormat("'%s' is not a valid number", text));
  }
  return value;
}

// --NAME N: a number of type T into *out; "NAME: 'x' is not a valid number"
// otherwise. `type` is the word the help shows for the value.
template <typename T>
CLI::Option* AddNumber(CLI::App& app, const std::string& name, T* out, const std::string& help,
                       const std::string& type = "N") {
  return app
      .add_option_function<std::string>(
          name,
          [name, out](const std::string& text) {
            absl::StatusOr<T> v = ParseNumber<T>(text);
            if (!v.ok()) throw CLI::ValidationError(name, std::string(v.status().message()));
            *out = *v;
          },
          help)
      ->type_name(type);
}

// --NAME N in [lo, hi]: as AddNumber, else "NAME must be RANGE" (RANGE
// says it for people: "1 to 64", "a number >= 0").
template <typename T>
CLI::Option* AddNumberIn(CLI::App& app, const std::string& name, T* out, T lo, T hi,
                         const std::string& range, const std::string& help,
                         const std::string& type = "N") {
  return app
      .add_option_function<std::string>(
          name,
          [name, out, lo, hi, range](const std::string& text) {
            absl::StatusOr<T> v = ParseNumber<T>(text);
            if (!v.ok() || *v < lo || *v > hi) {
              throw CLI::ValidationError(absl::StrFormat("%s must be %s", name, range));
            }
            *out = *v;
          },
          help)
      ->type_name(type);
}

// The help text of `app` (its usage line, then one line per option).
std::string Help(const CLI::App& app);

}  // namespace tlbscope::cli
