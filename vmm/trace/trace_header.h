#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope {

// Path, GNU build id (when the ELF has one), SHA-256 and size of a kernel.
absl::StatusOr<v1::KernelIdentity> IdentifyKernel(const std::string& path);

}  // namespace tlbscope
