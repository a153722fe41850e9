#include "common/cli.h"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "common/log.h"

namespace tlbscope::cli {

void Configure(CLI::App& app) {
  app.set_help_flag();
  app.allow_extras();
  app.option_defaults()->disable_flag_override()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  auto fmt = std::make_shared<CLI::Formatter>();
  fmt->column_width(28);
  app.formatter(fmt);
}

absl::Status ParseArgs(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ArgumentMismatch& e) {
    std::string what = e.what();
    std::string name = what.substr(0, what.find_first_of(": "));
    if (what.find("flag override") != std::string::npos) {
      if (name.rfind("-", 0) != 0) name = "--" + name;  // CLI11 names a flag without dashes
      return absl::InvalidArgumentError(absl::StrFormat("%s takes no value", name));
    }
    return absl::InvalidArgumentError(absl::StrFormat("%s needs a value", name));
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  }
  if (std::vector<std::string> extra = app.remaining(); !extra.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("unknown option '%s'", extra.front()));
  }
  return absl::OkStatus();
}

std::optional<int> ParseCommandArgs(CLI::App& app, const std::vector<std::string>& args,
                                    absl::string_view command) {
  if (absl::Status s = ParseArgs(app, args); !s.ok()) {
    LogError(command, s.message());
    return 2;
  }
  if (app.get_option_no_throw("--help") != nullptr && app.count("--help") > 0) {
    std::fputs(Help(app).c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

std::string Help(const CLI::App& app) { return app.help(); }

}  // namespace tlbscope::cli
