// The libvirt domain XML a regress run can come from (regress/domain_xml).
#include "regress/domain_xml.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tlbscope::regress {
namespace {

using ::testing::HasSubstr;

constexpr char kDomain[] = R"(<domain type='kvm'>
  <name>probe</name>
  <memory unit='MiB'>96</memory>
  <vcpu>4</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>guest-probe.elf</kernel>
    <initrd>/boot/initrd.img</initrd>
    <cmdline>scenario=lam-lazy</cmdline>
  </os>
  <devices>
    <serial type='pty'/>
  </devices>
</domain>)";

TEST(DomainXmlTest, LibvirtReadsVcpuMemoryAndOs) {
  absl::StatusOr<DomainVm> vm = ParseDomainXml(kDomain, "d.xml");
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->name, "probe");
  EXPECT_EQ(vm->vcpus, 4);
  EXPECT_EQ(vm->mem_mib, 96u);
  EXPECT_EQ(vm->kernel, "guest-probe.elf");
  EXPECT_EQ(vm->initrd, "/boot/initrd.img");
  EXPECT_EQ(vm->cmdline, "scenario=lam-lazy");
  // Units are libvirt's business: GiB and KiB come out the same way.
  std::string gib = kDomain;
  gib.replace(gib.find("<memory unit='MiB'>96"), 21, "<memory unit='GiB'>1");
  vm = ParseDomainXml(gib, "d.xml");
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->mem_mib, 1024u);
}

TEST(DomainXmlTest, MalformedOrUnsupportedDomainsAreRefused) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string x = kDomain;
    x.replace(x.find(from), from.size(), to);
    return x;
  };
  struct Case {
    std::string xml;
    const char* error;
  } cases[] = {
      {"<domain type='kvm'><name>x</name", "domain d.xml: "},
      {"<domain type='kvm'><memory>1</memory></domain>", "domain d.xml: "},
      {with("arch='x86_64'", "arch='aarch64'"), "aarch64"},
      {with("<kernel>guest-probe.elf</kernel>", ""), "os/kernel is missing"},
      {with("<kernel>", "<loader>/usr/share/OVMF/OVMF_CODE.fd</loader><kernel>"), "os/loader"},
      {with("<serial type='pty'/>",
            "<disk type='file' device='disk'><source file='/x.img'/>"
            "<target dev='vda' bus='virtio'/></disk>"),
       "devices/disk: tlbscope has no such device"},
      {with("<vcpu>4</vcpu>", "<vcpu>100</vcpu>"), "vcpu 100: tlbscope runs 1 to 64"},
      {with("<memory unit='MiB'>96", "<memory unit='MiB'>8192"), "memory 8192 MiB"},
      // Read before libvirt sees them: libvirt sized an array of 2^32 vCPUs
      // from "-4" (tests/fuzz/corpus/domain_xml/vcpu-negative).
      {with("<vcpu>4</vcpu>", "<vcpu>-4</vcpu>"), "vcpu -4: tlbscope runs 1 to 64"},
      {with("<vcpu>4</vcpu>", "<vcpu current='4294967295'>4</vcpu>"), "vcpu 4294967295: "},
      {with("<vcpu>4</vcpu>", "<vcpu>4</vcpu><cputune><vcpupin vcpu='0' cpuset='1'/></cputune>"),
       "domain d.xml: <cputune>: tlbscope does not read it"},
      {"<notadomain/>", "domain d.xml: the root element is not <domain>"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<DomainVm> vm = ParseDomainXml(c.xml, "d.xml");
    ASSERT_FALSE(vm.ok()) << c.xml;
    EXPECT_THAT(std::string(vm.status().message()), HasSubstr(c.error)) << c.xml;
  }
}

// The test driver's connection is shared by every parse: a domain that was
// defined and then refused must be gone again, or the next file naming it
// (with libvirt's fresh random UUID) would fail as a duplicate.
TEST(DomainXmlTest, EachParseStartsFromAnEmptyDriver) {
  std::string loader = kDomain;
  loader.replace(loader.find("<kernel>"), 8,
                 "<loader>/usr/share/OVMF/OVMF_CODE.fd</loader><kernel>");
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(ParseDomainXml(loader, "d.xml").ok());
    absl::StatusOr<DomainVm> vm = ParseDomainXml(kDomain, "d.xml");
    ASSERT_TRUE(vm.ok()) << "round " << i << ": " << vm.status();
  }
}

}  // namespace
}  // namespace tlbscope::regress
