#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace tlbscope::regress {

// What tlbscope takes from a libvirt domain: vcpu, memory, os/kernel,
// os/initrd, os/cmdline.
struct DomainVm {
  std::string name;
  int vcpus = 1;
  uint64_t mem_mib = 0;
  std::string kernel, initrd, cmdline;
};

// Reads a domain XML with libvirt itself: defines it on the test driver
// (test:///default, in memory, nothing touches the host), reads back what
// libvirt made of it (virDomainGetInfo, and the XML libvirt writes), and
// refuses what tlbscope cannot do: another architecture or OS type,
// firmware boot (os/loader, no os/kernel), and devices tlbscope does not
// have (disks, NICs, graphics, host devices, ...). Errors name the file.
absl::StatusOr<DomainVm> ReadDomainXml(const std::string& path);
absl::StatusOr<DomainVm> ParseDomainXml(const std::string& xml, const std::string& path);

}  // namespace tlbscope::regress
