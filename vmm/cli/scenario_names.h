#pragma once

// guest-probe's scenario names as the VMM checks them (the list the guest
// runs from: guest-probe/include/tlbscope/scenario_list.h).

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tlbscope {

std::vector<std::string> GuestProbeScenarios();

// InvalidArgument, naming the scenario and listing the valid ones, when
// `name` is none of guest-probe's scenarios, or `inject_bug` asks for a
// bug variant it does not have.
absl::Status CheckScenario(const std::string& name, bool inject_bug);

}  // namespace tlbscope
