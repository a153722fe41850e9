#pragma once

#include <string>
#include <vector>

namespace tlbscope {

// `tlbscope trace-info FILE`: the header, counts per kind and per vCPU,
// the first and last sequence, and how the run ended.
int TraceInfoCommand(const std::vector<std::string>& args);

}  // namespace tlbscope
