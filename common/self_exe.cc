#include "common/self_exe.h"

#include <unistd.h>

namespace tlbscope {

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

std::string SiblingPath(const std::string& name) {
  std::string dir = SelfDir();
  return dir.empty() ? "" : dir + "/" + name;
}

std::string BundledGuestProbe(const std::string& fallback) {
  if (std::string dir = SelfDir(); !dir.empty()) {
    for (const std::string& candidate :
         {dir + "/../guest-probe/guest-probe.elf", dir + "/../share/tlbscope/guest-probe.elf"}) {
      if (::access(candidate.c_str(), R_OK) == 0) return candidate;
    }
  }
  return fallback;
}

}  // namespace tlbscope
