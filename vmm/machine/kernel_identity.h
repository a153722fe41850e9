#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "tlbscope/v1/trace.pb.h"

namespace tlbscope {

// Path, GNU build id (when the ELF has one), SHA-256 and size of a kernel
// whose bytes are `bytes`.
absl::StatusOr<v1::KernelIdentity> IdentifyKernel(std::span<const uint8_t> bytes,
                                                  const std::string& path);

}  // namespace tlbscope
