#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vmm/machine/machine.h"

namespace tlbscope {

// `tlbscope run --linux [--workload NAME] [--iterations N] [--seed N]`: boot
// the test kernel built by guest-linux/build-kernel.sh with the tlbwork
// initramfs (docs/linux.md).
struct LinuxRunArgs {
  bool enabled = false;    // --linux (implied by --workload/--iterations)
  std::string workload;    // tlbwork=NAME
  std::string iterations;  // tlbiters=N
  std::string seed;        // tlbseed=N (--seed with --linux)
  std::string variant;     // --linux-variant: the kernel of guest-linux/patches/variants/NAME
  bool kernel_given = false;
  bool initrd_given = false;
  bool smp_given = false;
};

// The tlbwork workloads ("all" runs each in turn); guest-linux/workload/main.c
// has the same list.
const std::vector<std::string>& LinuxWorkloadNames();

// A seed variant's name as build-kernel.sh takes it: seed-NNN-[a-z0-9-]+.
bool LinuxVariantNameIsValid(const std::string& name);

// The built kernel's directory: $TLBSCOPE_LINUX_CACHE/kernel, else
// $XDG_CACHE_HOME/tlbscope/linux/kernel, else /var/cache/tlbscope/linux/kernel
// for root, else ~/.cache/tlbscope/linux/kernel (as build-kernel.sh).
std::string LinuxKernelDir();

// The tlbwork initramfs: $TLBSCOPE_TLBWORK_CPIO, else guest-linux/tlbwork.cpio
// in the build tree beside this executable.
std::string TlbworkInitramfs();

// Fills in the kernel, initrd, command line and vCPUs of a --linux run.
// A missing kernel or initramfs, an unknown workload or a bad number is
// InvalidArgument with one line naming it.
absl::Status ApplyLinuxRun(const LinuxRunArgs& args, MachineConfig* machine);

}  // namespace tlbscope
