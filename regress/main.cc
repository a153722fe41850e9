// tlbscope-regress: `tlbscope regress` as its own program, so the binary
// that runs guests as root does not carry libvirt, libxml2 and toml++.
// `tlbscope regress ARGS` execs this one, installed beside it; it starts the
// `tlbscope` beside it for each run (ARCHITECTURE.md).

#include <cstdio>
#include <string>
#include <vector>

#include "common/self_exe.h"
#include "regress/command.h"
#include "version/version.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& a : args) {
    if (a == "--version") {
      std::fputs(tlbscope::VersionText("tlbscope-regress").c_str(), stdout);
      return 0;
    }
  }
  return tlbscope::RegressCommand(args, tlbscope::SiblingPath("tlbscope"),
                                  tlbscope::BundledGuestProbe(TLBSCOPE_DEFAULT_KERNEL));
}
