#pragma once
// Where a kernel function returns: each `ret` in its code and, with the
// return-thunk mitigations (CONFIG_MITIGATION_RETHUNK), each `jmp
// __x86_return_thunk`, which returns. A probe that only needs the return
// (Probe::at_returns) puts its breakpoints there: one exit per call, the
// return emulated (rip = [rsp], rsp += 8), instead of an entry breakpoint
// plus a return breakpoint placed and stepped per call.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace tlbscope {

// The return instructions in `code` (a whole function, starting at
// `start`): a linear decode with Capstone. `*complete` says whether every
// byte decoded (only then is the list every return).
std::vector<uint64_t> FindReturnSites(std::span<const uint8_t> code, uint64_t start,
                                      std::optional<uint64_t> return_thunk, bool* complete);

}  // namespace tlbscope
