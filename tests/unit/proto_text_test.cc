// Values that are bytes (a kernel path, a command line) in proto3 `string`
// fields: a trace whose kernel path and command line are not UTF-8 is still
// read back by tlbscope's own reader, with the exact bytes kept.

#include "vmm/trace/proto_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "tlbscope/v1/run_result.pb.h"
#include "vmm/machine/kernel_identity.h"
#include "vmm/trace/recorder.h"
#include "vmm/trace/trace_reader.h"

namespace tlbscope {
namespace {

TEST(ProtoTextTest, Utf8PassesAndOtherBytesAreEscaped) {
  EXPECT_TRUE(IsUtf8("/boot/vmlinuz-6.12 console=ttyS0 ünïcødé"));
  EXPECT_EQ(Utf8Escaped("/boot/ünï"), "/boot/ünï");
  EXPECT_FALSE(IsUtf8("k\xff"));
  EXPECT_EQ(Utf8Escaped("a\xff"
                        "b"),
            "a\\xffb");
  EXPECT_EQ(Utf8Escaped("x\xc3"), "x\\xc3");                  // cut-off sequence
  EXPECT_EQ(Utf8Escaped("\xe9t\xc3\xa9"), "\\xe9t\xc3\xa9");  // Latin-1 é, then UTF-8 é
  EXPECT_EQ(Utf8Escaped("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
}

TEST(ProtoTextTest, ATraceWithANonUtf8KernelPathAndCmdlineReadsBack) {
  const std::string path = "/tmp/kernels/vmlinuz-\xe9t\xe9";  // Latin-1
  const std::string cmdline = "console=ttyS0 note=\xff\xfe";
  std::vector<uint8_t> kernel(64, 0x90);
  absl::StatusOr<v1::KernelIdentity> id = IdentifyKernel(kernel, path);
  ASSERT_TRUE(id.ok()) << id.status();
  v1::TraceHeader header;
  header.set_schema_version(kTraceSchemaVersion);
  *header.mutable_kernel() = *id;
  v1::VmConfig* vm = header.mutable_vm();
  SetTextAndBytes(
      cmdline, [&](std::string s) { vm->set_cmdline(s); },
      [&](std::string b) { vm->set_cmdline_bytes(b); });

  std::string file = ::testing::TempDir() + "/proto_text_trace";
  std::remove(file.c_str());
  {
    absl::StatusOr<std::unique_ptr<Recorder>> rec = Recorder::Create(file, header);
    ASSERT_TRUE(rec.ok()) << rec.status();
    (*rec)->OnEnd(v1::TraceEnd());
  }
  absl::StatusOr<TraceSummary> read = ReadTrace(file, [](const v1::Event&) {});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->header.kernel().path(), "/tmp/kernels/vmlinuz-\\xe9t\\xe9");
  EXPECT_EQ(read->header.kernel().path_bytes(), path);
  EXPECT_EQ(read->header.vm().cmdline(), "console=ttyS0 note=\\xff\\xfe");
  EXPECT_EQ(read->header.vm().cmdline_bytes(), cmdline);
  std::remove(file.c_str());
}

TEST(ProtoTextTest, Utf8ValuesLeaveTheBytesFieldsEmpty) {
  absl::StatusOr<v1::KernelIdentity> id = IdentifyKernel(std::vector<uint8_t>(8), "/k/ü");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->path(), "/k/ü");
  EXPECT_EQ(id->path_bytes(), "");
}

}  // namespace
}  // namespace tlbscope
