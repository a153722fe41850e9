#pragma once

// guest-probe's scenario names as tlbscope checks them, from the one list
// the guest runs from (guest-probe/include/tlbscope/scenario_list.h):
// `run --scenario` and a regress suite's `scenario =` both refuse an
// unknown name before anything boots.

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tlbscope {

std::vector<std::string> GuestProbeScenarios();

// InvalidArgument "'NAME': no such guest-probe scenario (known: ...)"
// when `name` is none of guest-probe's scenarios; the caller prefixes
// what gave the name ("--scenario", "run 'x': scenario").
absl::Status CheckScenarioName(const std::string& name);

// InvalidArgument "scenario 'NAME' has no bug variant (these have: ...)"
// when `name` (a known scenario) has no `variant=bug`.
absl::Status CheckBugVariant(const std::string& name);

}  // namespace tlbscope
