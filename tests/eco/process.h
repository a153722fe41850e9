#pragma once

#include <cstdio>
#include <string>

#include "tests/common/text_file.h"

namespace tlbscope::eco {

struct Output {
  int status = -1;  // exit status, -1 if killed by a signal
  std::string out;  // stdout (stderr goes to `err` when asked)
  std::string err;
};

// Runs a shell command; stdout captured, stderr captured into err.
Output Run(const std::string& command);

using ::tlbscope::testing::ReadAll;
using ::tlbscope::testing::ReadFile;

}  // namespace tlbscope::eco
