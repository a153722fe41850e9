#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tlbscope::regress {

// One run of a suite: the VM, the guest-probe scenario, and what the
// collectors must find.
struct RunSpec {
  std::string name;
  std::string kernel;  // empty: the bundled guest-probe
  std::string initrd;
  std::string domain;  // a libvirt domain XML the VM comes from (vcpu, memory, os/*)
  int smp = 2;
  uint64_t mem_mib = 64;
  std::string scenario;  // guest-probe's scenario=, empty: none
  std::string variant = "correct";
  uint64_t seed = 1;
  std::string cmdline;        // anything else for the kernel command line
  std::string workload;       // guest-linux's tlbwork workload: `run --workload` (docs/linux.md)
  std::string linux_variant;  // a seed variant of the test kernel: `run --linux-variant`
  double timeout_s = 120;
  std::vector<std::string> holds;  // `run --hold` specs (docs/hold.md)
  // `run --require` features: on a host without one the run is skipped.
  std::vector<std::string> required_features;
  // The expected verdict: clean, or exactly these invariant violations.
  bool expect_clean = true;
  std::set<std::string> expect_violations;
};

struct Suite {
  std::string path;
  std::string name;  // [suite] name, or the file's stem
  std::vector<RunSpec> runs;
};

// Reads a suite (TOML, docs/regress.md). A [defaults] table gives every
// run's defaults; each [[run]] needs a name (smp may be a list, which
// makes one run per value, named NAME-smpN) and an expect: "clean" or a
// list of invariant names. Errors name the file, the line and the key.
absl::StatusOr<Suite> LoadSuite(const std::string& path);

// The same from text (tests), `path` only for messages.
absl::StatusOr<Suite> ParseSuite(const std::string& text, const std::string& path);

}  // namespace tlbscope::regress
