#pragma once

// Reading what a test's command or code wrote: a tmpfile, a file by path.

#include <cstdio>
#include <string>

namespace tlbscope::testing {

// Reads a tmpfile from its start, and closes it.
std::string ReadAll(FILE* f);
// The whole file at `path` ("" if it cannot be read).
std::string ReadFile(const std::string& path);

}  // namespace tlbscope::testing
