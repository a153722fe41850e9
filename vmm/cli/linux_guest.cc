#include "vmm/cli/linux_guest.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tlbscope {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

bool Readable(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

absl::Status CheckCount(const char* flag, const std::string& v, uint64_t max) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n > max) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s '%s': expected a number up to %d", flag, v, max));
  }
  return absl::OkStatus();
}

// Appends KEY=VALUE unless the command line already has KEY=.
absl::Status AddParam(const std::string& key, const std::string& value, std::string* cmdline) {
  if (value.empty()) return absl::OkStatus();
  if (cmdline->find(key + "=") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--cmdline already sets %s=; give it there or with the option, not both", key));
  }
  if (!cmdline->empty()) *cmdline += ' ';
  *cmdline += key + "=" + value;
  return absl::OkStatus();
}

}  // namespace

bool LinuxVariantNameIsValid(const std::string& name) {
  if (name.size() < 10 || name.size() > 64 || !name.starts_with("seed-")) return false;
  for (size_t i = 5; i < 8; ++i) {
    if (!absl::ascii_isdigit(name[i])) return false;
  }
  if (name[8] != '-') return false;
  for (char c : name.substr(9)) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') return false;
  }
  return true;
}

const std::vector<std::string>& LinuxWorkloadNames() {
  static const std::vector<std::string> kNames = {"all",      "munmap", "madvise",    "mprotect",
                                                  "fork",     "lazy",   "membarrier", "pingpong",
                                                  "lazyfree", "unlazy", "spinfree",   "lamlazy"};
  return kNames;
}

std::string LinuxKernelDir() {
  if (std::string c = Env("TLBSCOPE_LINUX_CACHE"); !c.empty()) return c + "/kernel";
  if (std::string x = Env("XDG_CACHE_HOME"); !x.empty()) return x + "/tlbscope/linux/kernel";
  if (::getuid() == 0) return "/var/cache/tlbscope/linux/kernel";
  return Env("HOME") + "/.cache/tlbscope/linux/kernel";
}

std::string TlbworkInitramfs() {
  if (std::string c = Env("TLBSCOPE_TLBWORK_CPIO"); !c.empty()) return c;
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) {
    std::string exe(buf, static_cast<size_t>(n));
    std::string beside = exe.substr(0, exe.rfind('/')) + "/../guest-linux/tlbwork.cpio";
    if (Readable(beside)) return beside;
  }
  return TLBSCOPE_TLBWORK_CPIO;
}

absl::Status ApplyLinuxRun(const LinuxRunArgs& a, MachineConfig* m) {
  if (!a.enabled) return absl::OkStatus();
  const auto& names = LinuxWorkloadNames();
  if (!a.workload.empty() && std::find(names.begin(), names.end(), a.workload) == names.end()) {
    return absl::InvalidArgumentError(absl::StrFormat("--workload '%s': unknown (one of %s)",
                                                      a.workload, absl::StrJoin(names, ", ")));
  }
  if (!a.iterations.empty()) {
    if (absl::Status s = CheckCount("--iterations", a.iterations, 100000); !s.ok()) return s;
    if (a.iterations == "0") return absl::InvalidArgumentError("--iterations '0': at least 1");
  }
  if (!a.seed.empty()) {
    if (absl::Status s = CheckCount("--seed", a.seed, 0x7fffffff); !s.ok()) return s;
  }
  if (!a.variant.empty() && a.kernel_given) {
    return absl::InvalidArgumentError("--linux-variant chooses the kernel: not with --kernel");
  }
  if (!a.variant.empty() && !LinuxVariantNameIsValid(a.variant)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--linux-variant '%s': not a variant name (seed-NNN-name, guest-linux/patches/variants)",
        absl::CHexEscape(a.variant.substr(0, 64))));
  }
  // The test kernel's directory, or its variant's (build-kernel.sh).
  const std::string dir = LinuxKernelDir() + (a.variant.empty() ? "" : "-" + a.variant);
  if (!a.kernel_given) {
    m->kernel_path = dir + "/bzImage";
    if (!Readable(m->kernel_path)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--linux: no test kernel at %s (build it with %sguest-linux/build-kernel.sh)",
          m->kernel_path, a.variant.empty() ? "" : "TLBSCOPE_LINUX_VARIANT=" + a.variant + " "));
    }
  }
  if (!a.kernel_given) {
    // The test kernel's own System.map and BTF, for the Linux probes.
    if (m->system_map.empty() && Readable(dir + "/System.map")) m->system_map = dir + "/System.map";
    if (m->kernel_btf.empty() && Readable(dir + "/vmlinux.btf"))
      m->kernel_btf = dir + "/vmlinux.btf";
  }
  if (!a.initrd_given) {
    m->initrd_path = TlbworkInitramfs();
    if (!Readable(m->initrd_path)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--linux: no workload initramfs at %s (build the tlbwork_initramfs target)",
          m->initrd_path));
    }
  }
  if (m->cmdline.find("console=") == std::string::npos) {
    m->cmdline = m->cmdline.empty() ? "console=ttyS0" : "console=ttyS0 " + m->cmdline;
  }
  for (auto [key, value] : {std::pair{"tlbwork", a.workload}, std::pair{"tlbiters", a.iterations},
                            std::pair{"tlbseed", a.seed}}) {
    if (absl::Status s = AddParam(key, value, &m->cmdline); !s.ok()) return s;
  }
  if (!a.smp_given) m->smp = 2;
  return absl::OkStatus();
}

}  // namespace tlbscope
