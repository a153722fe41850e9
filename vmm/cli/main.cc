// tlbscope: a KVM VMM that shows what a guest kernel does to the TLB.

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/log.h"
#include "regress/command.h"
#include "version/version.h"
#include "vmm/cli/probe_host_command.h"
#include "vmm/cli/run_command.h"
#include "vmm/cli/sites_command.h"
#include "vmm/cli/trace_info_command.h"

namespace {

// This executable's path, or "" if /proc cannot say.
std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The bundled guest-probe: next to the build tree's tlbscope, or installed.
std::string DefaultKernel() {
  if (std::string exe = SelfExe(); !exe.empty()) {
    std::string dir = exe.substr(0, exe.rfind('/'));
    for (const std::string& candidate :
         {dir + "/../guest-probe/guest-probe.elf", dir + "/../share/tlbscope/guest-probe.elf"}) {
      if (::access(candidate.c_str(), R_OK) == 0) return candidate;
    }
  }
  return TLBSCOPE_DEFAULT_KERNEL;
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
  if (cmd == "regress") return tlbscope::RegressCommand(args, SelfExe(), DefaultKernel());
  tlbscope::Log("unknown command '%s' (try `tlbscope help`)", cmd);
  return 2;
}
