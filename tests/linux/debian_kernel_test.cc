// Debian's cloud-amd64 kernel, a kernel no one here wrote, fetched by
// scripts/fetch_linux.sh (the linux_fetch_kernel CTest fixture) into
// LINUX_CACHE_DIR with a busybox initramfs. A missing kernel is a failure
// (the fetch failed, e.g. no network), never a skip; only a missing
// /dev/kvm skips, saying so.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <sstream>

#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCache = LINUX_CACHE_DIR;
const std::string kKernel = kCache + "/vmlinuz";
const std::string kInitrd = kCache + "/initramfs.cpio";
// Debian's CONFIG_PHYSICAL_START: where startup_64 lives without KASLR
// (PVH boots skip the decompressor, so no KASLR).
constexpr const char* kEntryPaddr = "0x1000000";
// On kvm_pvm tlbscope appends noxsave clearcpuid=... itself (docs/linux.md).
const std::string kCmdline = "console=ttyS0 earlyprintk=serial,ttyS0,115200";

void RequireKernel() {
  ASSERT_EQ(access(kKernel.c_str(), R_OK), 0)
      << kKernel << " is missing: the linux_fetch_kernel fixture (scripts/fetch_linux.sh " << kCache
      << ") did not fetch Debian's kernel; this test fails rather than skips";
  ASSERT_EQ(access(kInitrd.c_str(), R_OK), 0) << kInitrd << " is missing";
}

std::vector<std::string> Lines(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

TEST(DebianKernelTest, SitesOfTheRealKernel) {
  RequireKernel();
  ProcResult r = RunTlbscope({"sites", kKernel}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // objdump -d on the vmlinux inside counts 40 mov-to-CR3 (31 outside
  // .altinstr_replacement), 1 invlpg, 2 invpcid.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.out, m, std::regex(R"((\d+) sites: (\d+) mov-cr3, (\d+) invlpg, (\d+) invpcid)")))
      << r.out;
  EXPECT_GE(std::stoi(m[2]), 30);
  EXPECT_EQ(std::stoi(m[3]), 1);
  EXPECT_EQ(std::stoi(m[4]), 2);
  // The PTI switches of the entry code, recognised without symbols.
  EXPECT_GE(Lines(r.out, "entry/PTI").size(), 8u);
  // The 9 of .altinstr_replacement (write_cr3's `mov %rdi,%cr3`), each
  // mapped through its kernel's alt_instr entries (layout from .BTF) to
  // the paravirt call it replaces at boot.
  ASSERT_TRUE(std::regex_search(
      r.out, m,
      std::regex(R"(alternatives: the (\d+) sites of \.altinstr_replacement run at (\d+) places)")))
      << r.out;
  EXPECT_EQ(std::stoi(m[1]), 9);
  EXPECT_EQ(std::stoi(m[2]), 9);
  EXPECT_EQ(Lines(r.out, "alternative 0x").size(), 9u);
}

TEST(DebianKernelTest, PtiSwitchesCanBeLeftOut) {
  REQUIRE_KVM();
  RequireKernel();
  ProcResult r = RunTlbscope({"run", "--kernel", kKernel, "--mem", "256", "--cmdline", kCmdline,
                              "--timeout", "5", "--quiet", "--no-trap-entry-text"},
                             60);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.err, m,
      std::regex(
          R"((\d+) sites not traced \(\.entry\.text and PTI switches, \.altinstr_replacement\))")))
      << r.err;
  EXPECT_GE(std::stoi(m[1]), 8 + 9);
  EXPECT_THAT(r.err,
              Not(HasSubstr("0xffffffff81c0009d")));  // SWITCH_TO_KERNEL_CR3 in the int3 list
}

// The first 45 s of a boot on two vCPUs.
TEST(DebianKernelTest, BootsOnTwoVcpusAndTrapsEveryCr3Write) {
  REQUIRE_KVM();
  RequireKernel();
  std::string dir = ::testing::TempDir();
  std::string serial = dir + "/debian_serial.log", traps = dir + "/debian_traps.log";
  ProcResult r = RunTlbscope(
      {"run", "--kernel", kKernel, "--initrd", kInitrd, "--smp", "2", "--mem", "256", "--cmdline",
       kCmdline, "--timeout", "45", "--quiet", "--serial-log", serial, "--trap-log", traps},
      120);
  // Still booting after 45 s here (timeout, 4); a fast host may finish (0).
  EXPECT_TRUE(r.exit_code == 4 || r.exit_code == 0) << r.err;
  std::string console = ReadFile(serial);
  EXPECT_THAT(console, HasSubstr("Linux version 6.1"));
  // Two CPUs from the ACPI MADT (Debian's kernel has no MP-table parser).
  EXPECT_THAT(console, HasSubstr("smpboot: Allowing 2 CPUs"));
  EXPECT_THAT(r.err, HasSubstr("int3 on every site"));
  // The Linux probes, from its kallsyms and .BTF (issue 14).
  EXPECT_THAT(r.err, HasSubstr("tlbscope: linux probes: 8 breakpoints"));
  EXPECT_THAT(r.err, HasSubstr("(after the ftrace site)"));

  std::vector<std::string> cr3 = Lines(ReadFile(traps), " mov-cr3 ");
  // pvh_start_xen, startup_64 (early_top_pgt), then init_top_pgt.
  ASSERT_GE(cr3.size(), 3u) << r.err;
  for (const std::string& line : cr3) {
    EXPECT_THAT(line, HasSubstr(std::string("root maps kernel entry -> ") + kEntryPaddr)) << line;
  }
  // The very first one is the PVH entry's, from 0 with paging still off.
  EXPECT_THAT(cr3.front(), HasSubstr("vcpu 0 #1 mov-cr3"));
  EXPECT_THAT(cr3.front(), HasSubstr("cr3 0 ->"));
}

// The 32-bit boot protocol: the kernel's own decompressor reads the zero
// page's command line (its "KASLR disabled" line proves cmd_line_ptr, ESI
// and the entry); it then decompresses in KVM's emulator, minutes here.
TEST(DebianKernelTest, BootProtocolRunsTheKernelsDecompressor) {
  REQUIRE_KVM();
  RequireKernel();
  std::string serial = ::testing::TempDir() + "/debian_bootproto_serial.log";
  ProcResult r = RunTlbscope(
      {"run", "--kernel", kKernel, "--boot", "linux", "--initrd", kInitrd, "--mem", "256",
       "--cmdline", kCmdline + " nokaslr", "--timeout", "15", "--quiet", "--serial-log", serial},
      60);
  EXPECT_TRUE(r.exit_code == 4 || r.exit_code == 0) << r.err;
  EXPECT_THAT(ReadFile(serial), HasSubstr("KASLR disabled: 'nokaslr' on cmdline."));
  EXPECT_THAT(r.err, HasSubstr("--boot linux: debug registers only"));
  EXPECT_THAT(r.err, HasSubstr("linux probes: off with --boot linux"));
}

// The long run: busybox's init on two vCPUs up to its reboot.
TEST(DebianKernelLongTest, BusyboxInitRunsToItsReboot) {
  REQUIRE_KVM();
  RequireKernel();
  std::string dir = ::testing::TempDir();
  std::string serial = dir + "/debian_long_serial.log", traps = dir + "/debian_long_traps.log";
  ProcResult r = RunTlbscope(
      {"run", "--kernel", kKernel, "--initrd", kInitrd, "--smp", "2", "--mem", "256", "--cmdline",
       kCmdline, "--timeout", "3000", "--quiet", "--serial-log", serial, "--trap-log", traps},
      3100);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string console = ReadFile(serial);
  EXPECT_THAT(console, HasSubstr("tlbscope-init: userspace up, 2 CPUs online"));
  EXPECT_THAT(console, HasSubstr("tlbscope-init: done"));
  EXPECT_THAT(r.err, HasSubstr("guest reset the machine"));
  std::vector<std::string> cr3 = Lines(ReadFile(traps), " mov-cr3 ");
  EXPECT_GE(cr3.size(), 10u);
  for (const std::string& line : cr3) {
    EXPECT_THAT(line, HasSubstr(std::string("root maps kernel entry -> ") + kEntryPaddr)) << line;
  }
}

}  // namespace
}  // namespace tlbscope::testing
