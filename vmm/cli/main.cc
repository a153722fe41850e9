// tlbscope: a KVM VMM that shows what a guest kernel does to the TLB.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/self_exe.h"
#include "version/version.h"
#include "vmm/cli/probe_host_command.h"
#include "vmm/cli/run_command.h"
#include "vmm/cli/sites_command.h"
#include "vmm/cli/trace_info_command.h"

namespace {

// The bundled guest-probe: next to the build tree's tlbscope, or installed.
std::string DefaultKernel() { return tlbscope::BundledGuestProbe(TLBSCOPE_DEFAULT_KERNEL); }

// `tlbscope regress ARGS`: exec tlbscope-regress ARGS, the program installed
// beside this one (regress links libvirt, libxml2 and toml++, which the
// binary that runs guests as root does not). Returns only on failure: 5.
int ExecRegress(const std::vector<std::string>& args) {
  std::string path = tlbscope::SiblingPath("tlbscope-regress");
  if (path.empty()) path = "tlbscope-regress";
  std::vector<char*> argv = {path.data()};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(path.c_str(), argv.data());
  tlbscope::LogError("regress", absl::StrFormat("cannot run %s: %s (tlbscope-regress is installed "
                                                "beside tlbscope)",
                                                path, std::strerror(errno)));
  return 5;
}

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: tlbscope COMMAND [options]\n"
               "commands:\n"
               "  run         boot a guest kernel under tlbscope (default: the bundled "
               "guest-probe)\n"
               "  sites       list the MOV-to-CR3, INVLPG and INVPCID sites in a kernel image\n"
               "  probe-host  what this host's KVM supports and the trap strategy per "
               "instruction\n"
               "  trace-info  summarize a trace recorded with `run --record`\n"
               "  regress     run a suite of guest runs against expected verdicts (JUnit XML)\n"
               "  help        this text; `tlbscope COMMAND --help` for a command's options\n"
               "`--version` (alone, or after any command) prints the version\n");
}

// `--version` anywhere after the command, except as --cmdline's value.
bool AsksVersion(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--version" && (i == 0 || args[i - 1] != "--cmdline")) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage(stderr);
    return 2;
  }
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "--version" || cmd == "version" || AsksVersion(args)) {
    std::fputs(tlbscope::VersionText("tlbscope").c_str(), stdout);
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    Usage(stdout);
    return 0;
  }
  if (cmd == "run") {
    absl::StatusOr<tlbscope::RunOptions> o = tlbscope::ParseRunArgs(args, DefaultKernel());
    if (!o.ok()) {
      tlbscope::LogError("run", o.status().message());
      return 2;
    }
    if (o->help) {
      std::fputs(tlbscope::RunUsage(), stdout);
      return 0;
    }
    return tlbscope::RunCommand(*o);
  }
  if (cmd == "sites") return tlbscope::SitesCommand(args);
  if (cmd == "probe-host") return tlbscope::ProbeHostCommand(args);
  if (cmd == "trace-info") return tlbscope::TraceInfoCommand(args);
  if (cmd == "regress") return ExecRegress(args);
  tlbscope::Log("unknown command '%s' (try `tlbscope help`)", cmd);
  return 2;
}
