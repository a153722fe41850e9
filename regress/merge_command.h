#pragma once

#include <string>
#include <vector>

namespace tlbscope {

// `tlbscope regress merge OUT... [--junit FILE] [--write-baseline FILE]`:
// the shards' outputs (each --out DIR, or its report.json) as one suite
// run: one summary table, one JUnit file, one baseline. Exit status as
// `regress`: 0 all matched, 1 some did not, 2 bad input (a shard missing
// or twice, reports of different suites, an unreadable report).
int RegressMergeCommand(const std::vector<std::string>& args);

}  // namespace tlbscope
