#pragma once

// `tlbcollect ARGS...` in-process, with what it printed.

#include <string>
#include <vector>

namespace tlbscope::collect::testing {

struct CliRun {
  int status;
  std::string out, err;
};

CliRun Tlbcollect(const std::vector<std::string>& args);

}  // namespace tlbscope::collect::testing
