#pragma once

#include <cstdio>
#include <string>

namespace tlbscope::eco {

struct Output {
  int status = -1;  // exit status, -1 if killed by a signal
  std::string out;  // stdout (stderr goes to `err` when asked)
  std::string err;
};

// Runs a shell command; stdout captured, stderr captured into err.
Output Run(const std::string& command);

// Reads a tmpfile from its start, and closes it.
std::string ReadAll(FILE* f);
std::string ReadFile(const std::string& path);

}  // namespace tlbscope::eco
