#pragma once

#include <string>
#include <vector>

namespace tlbscope {

// `tlbscope sites KERNEL`: every MOV-to-CR3, INVLPG and INVPCID in the
// kernel's executable sections, one per line. Returns the exit status.
int SitesCommand(const std::vector<std::string>& args);

}  // namespace tlbscope
