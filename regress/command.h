#pragma once

#include <string>
#include <vector>

namespace tlbscope {

// `tlbscope regress SUITE [options]` (docs/regress.md), the program
// tlbscope-regress. Exit status: 0 when every run matched its expected
// verdict (and its baseline), 1 when any did not, 2 for bad input (suite,
// domain XML, options, baseline), 5 when `tlbscope` (the executable each
// run starts) cannot be run.
int RegressCommand(const std::vector<std::string>& args, const std::string& tlbscope,
                   const std::string& default_kernel);

}  // namespace tlbscope
