#pragma once

#include <string>
#include <vector>

namespace tlbscope {

// `tlbscope regress SUITE [options]` (docs/regress.md). Exit status: 0 when
// every run matched its expected verdict (and its baseline), 1 when any
// did not, 2 for bad input (suite, domain XML, options, baseline).
// `self` is the tlbscope executable each run starts.
int RegressCommand(const std::vector<std::string>& args, const std::string& self,
                   const std::string& default_kernel);

}  // namespace tlbscope
