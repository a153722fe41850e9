#pragma once
// KernelLayout from BTF, through libbpf's btf__ API: the .BTF section of a
// vmlinux, or a detached raw BTF file (pahole --btf_encode_detached).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "introspect/layout.h"

namespace tlbscope::introspect {

// Parses the raw BTF `blob` (InvalidArgument "BTF <what>: ..." when libbpf
// rejects it) and fills every requested member. Missing required members
// are listed in `missing` ("tlb_state.loaded_mm"), not an error: the caller
// decides what a kernel without them can still do.
absl::StatusOr<KernelLayout> LayoutFromBtf(std::span<const uint8_t> blob, const std::string& what,
                                           std::vector<std::string>* missing);

}  // namespace tlbscope::introspect
