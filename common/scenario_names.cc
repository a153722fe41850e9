#include "common/scenario_names.h"

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tlbscope/scenario_list.h"

namespace tlbscope {
namespace {

struct Known {
  const char* name;
  bool has_bug_variant;
};

#define TLBSCOPE_SCENARIO_NAME(name, id, what, bug) Known{name, bug != 0},
constexpr Known kScenarios[] = {TLBSCOPE_SCENARIOS(TLBSCOPE_SCENARIO_NAME)};
#undef TLBSCOPE_SCENARIO_NAME

}  // namespace

std::vector<std::string> GuestProbeScenarios() {
  std::vector<std::string> out;
  for (const Known& k : kScenarios) out.push_back(k.name);
  return out;
}

absl::Status CheckScenarioName(const std::string& name) {
  for (const Known& k : kScenarios) {
    if (name == k.name) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("'%s': no such guest-probe scenario (known: %s)", name,
                      absl::StrJoin(GuestProbeScenarios(), ", ")));
}

absl::Status CheckBugVariant(const std::string& name) {
  std::vector<std::string> with_bug;
  for (const Known& k : kScenarios) {
    if (!k.has_bug_variant) continue;
    if (name == k.name) return absl::OkStatus();
    with_bug.push_back(k.name);
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "scenario '%s' has no bug variant (these have: %s)", name, absl::StrJoin(with_bug, ", ")));
}

}  // namespace tlbscope
