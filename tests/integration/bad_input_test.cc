// Bad input to `tlbscope run`: one line on stderr naming the problem, exit
// status 2, nothing on stdout, no crash. Input checks happen before KVM is
// touched, so these run (and must pass) even without /dev/kvm.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;

void ExpectBadInput(const std::vector<std::string>& args, const std::string& needle) {
  ProcResult r = RunTlbscope(args, 30);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(needle));
  EXPECT_EQ(r.out, "");
}

TEST(BadInputTest, MissingKernelFile) {
  ExpectBadInput({"run", "--kernel", "/nonexistent/vmlinux"},
                 "kernel /nonexistent/vmlinux: No such file or directory");
}

TEST(BadInputTest, NotAnElf) {
  std::string path = ::testing::TempDir() + "/bad_input_text";
  std::ofstream(path) << "hello\n";
  ExpectBadInput({"run", "--kernel", path}, "not an ELF file");
}

TEST(BadInputTest, NoUsableEntry) {
  ExpectBadInput({"run", "--kernel", TestKernel("pvh_no_note.elf")}, "no usable entry");
  ExpectBadInput({"run", "--kernel", TestKernel("pvh_bad_entry.elf")}, "no usable entry");
}

TEST(BadInputTest, SegmentsOutsideGuestMemory) {
  ExpectBadInput({"run", "--kernel", TestKernel("pvh_high.elf")}, "outside guest memory");
}

TEST(BadInputTest, GuestProbeDoesNotFitInTinyMemory) {
  // 2 MiB is the floor; the guest-probe image (with its per-CPU stacks) needs more.
  ExpectBadInput({"run", "--mem", "2"}, "outside guest memory (2 MiB)");
}

TEST(BadInputTest, TruncatedFile) {
  ExpectBadInput({"run", "--kernel", TestKernel("pvh_truncated.elf")}, "truncated or corrupt ELF");
}

TEST(BadInputTest, SmpZeroAndTooLarge) {
  ExpectBadInput({"run", "--smp", "0"}, "--smp must be between 1 and 64 (got 0)");
  ExpectBadInput({"run", "--smp", "65"}, "--smp must be between 1 and 64 (got 65)");
}

TEST(BadInputTest, MemTooSmall) {
  ExpectBadInput({"run", "--mem", "1"}, "--mem must be between 2 and 3072 MiB (got 1)");
}

TEST(BadInputTest, UnknownOptionAndCommand) {
  ExpectBadInput({"run", "--bogus"}, "unknown option '--bogus'");
  ExpectBadInput({"frobnicate"}, "unknown command 'frobnicate'");
}

TEST(BadInputTest, UnwritableOutputFiles) {
  for (const char* flag : {"--results", "--trap-log", "--record"}) {
    ExpectBadInput({"run", "--kernel", TestKernel("mb_aout.bin"), flag, "/nonexistent-dir/out"},
                   std::string(flag) + " /nonexistent-dir/out: No such file or directory");
  }
}

TEST(BadInputTest, MissingKvmDeviceIsAHostError) {
  ProcResult r = RunTlbscope(
      {"run", "--kernel", TestKernel("mb_aout.bin"), "--kvm-device", "/nonexistent/kvm"}, 30);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.err,
            "tlbscope: error: open /nonexistent/kvm failed: No such file or directory "
            "(errno 2)\n");
}

TEST(BadInputTest, UnwritableSerialLog) {
  ExpectBadInput(
      {"run", "--kernel", TestKernel("mb_aout.bin"), "--serial-log", "/nonexistent-dir/serial.log"},
      "--serial-log /nonexistent-dir/serial.log");
}

// The output policy (common/output_file.h): every output of `run` must be
// a regular file or not exist yet; a device node or a symlink is bad input,
// refused before the guest runs, and left as it was.
TEST(BadInputTest, DevicesAndSymlinksAsOutputsAreRefused) {
  std::string target = ::testing::TempDir() + "/bad_input_target";
  std::string link = ::testing::TempDir() + "/bad_input_link";
  std::ofstream(target) << "keep\n";
  std::remove(link.c_str());
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  for (const char* flag : {"--collect-json", "--results", "--record", "--trap-log", "--serial-log",
                           "--collect-perfetto"}) {
    ExpectBadInput({"run", flag, "/dev/full"},
                   std::string(flag) + " /dev/full: is a character device");
    ExpectBadInput({"run", flag, link}, std::string(flag) + " " + link + ": is a symlink");
  }
  EXPECT_EQ(ReadFile(target), "keep\n");
  std::remove(link.c_str());
  std::remove(target.c_str());
}

TEST(BadInputTest, UnknownScenarioIsRefusedBeforeBoot) {
  ExpectBadInput({"run", "--scenario", "no-such-scenario"},
                 "--scenario 'no-such-scenario': no such guest-probe scenario");
}

TEST(BadInputTest, TraceInfoOfADirectorySaysSo) {
  ProcResult r = RunTlbscope({"trace-info", ::testing::TempDir()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("is a directory, not a trace file"));
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
}

// trace-info, sites and probe-host parse with the library run and regress
// use (common/cli.h): a bad option or a wrong number of arguments is one
// line naming it and exit 2, before any file or /dev/kvm is touched;
// --help is the generated help on stdout.
TEST(BadInputTest, TraceInfoSitesAndProbeHostRefuseBadOptions) {
  for (std::string cmd : {"trace-info", "sites", "probe-host"}) {
    ExpectBadInput({cmd, "--bogus"}, "tlbscope " + cmd + ": error: unknown option '--bogus'");
    ExpectBadInput({cmd, "--help=yes"}, "tlbscope " + cmd + ": error: --help takes no value");
    ProcResult help = RunTlbscope({cmd, "--help"});
    EXPECT_EQ(help.exit_code, 0) << help.err;
    EXPECT_THAT(help.out, HasSubstr("tlbscope " + cmd + " [OPTIONS]"));
    EXPECT_EQ(help.err, "");
  }
  ExpectBadInput({"trace-info"}, "tlbscope trace-info: error: expected one FILE argument (got 0)");
  ExpectBadInput({"trace-info", "a", "b"}, "expected one FILE argument (got 2)");
  ExpectBadInput({"sites"}, "tlbscope sites: error: expected one KERNEL argument (got 0)");
  ExpectBadInput({"probe-host", "--kvm-device"},
                 "tlbscope probe-host: error: --kvm-device needs a value");
  ExpectBadInput({"probe-host", "extra"}, "tlbscope probe-host: error: unknown option 'extra'");
}

TEST(BadInputTest, TimeoutsThatAreNoDurationAreRefused) {
  for (const char* t : {"inf", "1e10", "nan"}) {
    ExpectBadInput({"run", "--timeout", t}, "--timeout must be >= 0 and at most");
  }
}

}  // namespace
}  // namespace tlbscope::testing
