// The libvirt domain XML reader (regress/domain_xml.h) on arbitrary text.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "regress/domain_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string xml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tlbscope::regress::DomainVm> vm =
      tlbscope::regress::ParseDomainXml(xml, "fuzz.xml");
  if (!vm.ok() && vm.status().message().empty()) std::abort();
  if (vm.ok() && vm->vcpus < 1) std::abort();
  return 0;
}
