#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace tlbscope::collect {

// Exit statuses of tlbcollect.
inline constexpr int kExitClean = 0;
inline constexpr int kExitViolations = 1;  // the verdict: coherence was lost
inline constexpr int kExitUsage = 2;       // bad arguments or output paths
inline constexpr int kExitInput = 3;       // trace unreadable / cut short, stream failed
// A Linux trace whose model differed from the kernel's own state at a
// return to user mode (state vs guest): tlbscope lost or misread events.
inline constexpr int kExitStateMismatch = 4;

// `tlbcollect ARGS...` (without the program name): prints to `out` (state,
// violations, verdict) and `err` (one line per error); returns the exit status.
int RunTlbcollect(const std::vector<std::string>& args, FILE* out, FILE* err);

const char* TlbcollectUsage();

}  // namespace tlbscope::collect
