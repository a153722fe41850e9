// bzImages under KVM and as bad input: handmade ones around the tiny PVH
// test kernel (every payload format the loader decompresses), and broken
// ones that must be refused with one line and exit status 2.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/common/synthetic_bzimage.h"
#include "tests/integration/run_helper.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string path = ::testing::TempDir() + "/" + name;
  WriteAll(path, bytes);
  return path;
}

std::vector<uint8_t> Hello() { return ReadAll(TestKernel("pvh_hello.elf")); }

class BzImageBootTest : public ::testing::TestWithParam<Compression> {};

TEST_P(BzImageBootTest, VmlinuxInsideBootsThroughPvh) {
  REQUIRE_KVM();
  std::string name = std::string("bz_") + CompressionName(GetParam());
  std::string path = WriteTemp(name, MakeBzImage({}, CompressLikeLinux(GetParam(), Hello())));
  // Any bzImage counts as Linux: keep tlbscope's kvm_pvm options out of the
  // command line the test kernel echoes.
  ProcResult r = RunTlbscope(
      {"run", "--kernel", path, "--cmdline", "hello from a bzImage", "--no-linux-cpu-fixups"});
  EXPECT_EQ(r.exit_code, 43) << r.err;
  EXPECT_EQ(r.out, "hello from a bzImage\n");
  EXPECT_THAT(r.err, HasSubstr("pvh boot"));
}

INSTANTIATE_TEST_SUITE_P(Formats, BzImageBootTest,
                         ::testing::Values(Compression::kGzip, Compression::kXz,
                                           Compression::kLz4Legacy, Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

void ExpectBadInput(const std::vector<std::string>& args, const std::string& needle) {
  ProcResult r = RunTlbscope(args, 30);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(needle));
  EXPECT_EQ(r.out, "");
}

TEST(BzImageBadInputTest, TruncatedBzImage) {
  std::vector<uint8_t> bz = MakeBzImage({}, CompressLikeLinux(Compression::kGzip, Hello()));
  bz.resize(0x800);
  std::string path = WriteTemp("bz_truncated", bz);
  ExpectBadInput({"run", "--kernel", path}, "kernel " + path + ": truncated bzImage");
}

TEST(BzImageBadInputTest, TruncatedPayload) {
  std::vector<uint8_t> bz = MakeBzImage({}, CompressLikeLinux(Compression::kLz4Legacy, Hello()));
  bz.resize(bz.size() - 200);
  std::string path = WriteTemp("bz_truncated_payload", bz);
  ExpectBadInput({"run", "--kernel", path}, "is not inside the");
}

TEST(BzImageBadInputTest, WrongMagic) {
  BzImageSpec spec;
  spec.header = 0x21212121;
  std::string path = WriteTemp("bz_magic", MakeBzImage(spec, Hello()));
  ExpectBadInput({"run", "--kernel", path}, "magic at 0x202");
}

TEST(BzImageBadInputTest, BadSetupHeader) {
  BzImageSpec spec;
  spec.version = 0x0201;
  std::string path = WriteTemp("bz_old", MakeBzImage(spec, Hello()));
  ExpectBadInput({"run", "--kernel", path}, "boot protocol 2.01 at 0x206 is too old");
  BzImageSpec len;
  len.payload_length = 0x7fffffff;
  path = WriteTemp("bz_len", MakeBzImage(len, Hello()));
  ExpectBadInput({"run", "--kernel", path}, "payload_length at 0x24c");
}

TEST(BzImageBadInputTest, CorruptCompressedPayload) {
  std::vector<uint8_t> payload = CompressLikeLinux(Compression::kXz, Hello());
  for (size_t i = 40; i < payload.size() - 40; ++i) payload[i] ^= 0xa5;
  std::string path = WriteTemp("bz_corrupt", MakeBzImage({}, payload));
  ExpectBadInput({"run", "--kernel", path}, "xz payload at file offset 0xb00: corrupt xz data");
}

TEST(BzImageBadInputTest, MissingInitrd) {
  ExpectBadInput(
      {"run", "--kernel", TestKernel("pvh_hello.elf"), "--initrd", "/nonexistent/initrd"},
      "initrd /nonexistent/initrd: No such file or directory");
}

TEST(BzImageBadInputTest, InitrdTooBig) {
  std::string path = WriteTemp("initrd_big", std::vector<uint8_t>(40 << 20, 7));
  ExpectBadInput({"run", "--kernel", TestKernel("pvh_hello.elf"), "--mem", "32", "--initrd", path},
                 "initrd " + path + ": too big");
}

TEST(BzImageBadInputTest, InitrdWithMultiboot) {
  std::string path = WriteTemp("initrd_small", std::vector<uint8_t>(100, 7));
  ExpectBadInput({"run", "--kernel", TestKernel("mb_elf32.elf32"), "--initrd", path},
                 "--initrd needs a Linux kernel");
}

}  // namespace
}  // namespace tlbscope::testing
