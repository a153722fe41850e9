#pragma once

#include <string>
#include <vector>

namespace tlbscope {

// `tlbscope probe-host`: what this host's KVM supports for trapping TLB
// instructions, and the strategy each instruction will use.
int ProbeHostCommand(const std::vector<std::string>& args);

}  // namespace tlbscope
