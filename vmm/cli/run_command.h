#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/machine/machine.h"

namespace tlbscope {

struct RunOptions {
  MachineConfig machine;
  std::string results_path;              // --results FILE (protobuf JSON)
  bool collect = true;                   // the in-process collector (--no-collect: off)
  std::string collect_json;              // --collect-json FILE: tlbcollect's --json summary
  std::string collect_perfetto;          // --collect-perfetto FILE
  std::string perfetto_format = "auto";  // --perfetto-format json|proto|auto
  // --require FEATURE (and what --workload implies): skip the run, status
  // 77, on a host whose KVM does not offer each (requirements.h).
  std::vector<std::string> required_features;
  bool help = false;
};

// Parses `tlbscope run` arguments (without the leading "run"). Errors are
// InvalidArgument with one line naming the option.
absl::StatusOr<RunOptions> ParseRunArgs(const std::vector<std::string>& args,
                                        const std::string& default_kernel);

const char* RunUsage();

// Runs the VM and prints the outcome; returns the process exit status.
int RunCommand(const RunOptions& options);

}  // namespace tlbscope
