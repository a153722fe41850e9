#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/unit/collect_sink.h"
#include "tlbscope/probe_abi.h"
#include "vmm/devices/exit_port.h"
#include "vmm/devices/mark_port.h"
#include "vmm/devices/serial.h"
#include "vmm/vcpu/io_bus.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

uint8_t ReadReg(Serial16550& s, uint16_t port) {
  uint8_t v = 0xaa;
  EXPECT_FALSE(s.Read(0, port, {&v, 1}));
  return v;
}
void WriteReg(Serial16550& s, uint16_t port, uint8_t v) { EXPECT_FALSE(s.Write(0, port, {&v, 1})); }

TEST(Serial16550Test, DivisorLatchDoesNotPrint) {
  auto sink = *SerialSink::Create(false, "");
  Serial16550 s(0x3f8, sink.get());
  WriteReg(s, 0x3fb, 0x80);  // DLAB
  WriteReg(s, 0x3f8, 0x01);  // divisor low
  WriteReg(s, 0x3f9, 0x00);
  EXPECT_EQ(ReadReg(s, 0x3f8), 0x01);
  WriteReg(s, 0x3fb, 0x03);  // 8N1, DLAB off
  WriteReg(s, 0x3f8, 'Z');
  EXPECT_EQ(sink->transcript(), "Z");
  EXPECT_EQ(ReadReg(s, 0x3fb), 0x03);
}

// A Linux guest whose kernel panics stops the run at the end of the panic
// output (after its stack dump), the panic in the stop message; the same
// text from another guest, or the panic's first line, does not stop it.
TEST(Serial16550Test, TheEndOfALinuxPanicStopsTheRun) {
  auto sink = *SerialSink::Create(false, "");
  Serial16550 s(0x3f8, sink.get());
  auto write = [&](const std::string& text) {
    IoOutcome last;
    for (char c : text) {
      uint8_t b = static_cast<uint8_t>(c);
      last = s.Write(0, 0x3f8, {&b, 1});
      if (last) break;
    }
    return last;
  };
  const std::string end =
      "[    1.16] ---[ end Kernel panic - not syncing: Attempted to kill init! ]---\n";
  EXPECT_FALSE(write(end));  // not watched: not a Linux guest
  sink->WatchLinuxPanic();
  EXPECT_FALSE(write("[    1.16] Kernel panic - not syncing: Attempted to kill init!\n"));
  EXPECT_FALSE(write("[    1.17] Call Trace:\n"));
  IoOutcome stop = write(end);
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->reason, StopReason::kGuestPanic);
  EXPECT_EQ(stop->message,
            "the guest kernel panicked: Kernel panic - not syncing: Attempted to kill init!");
  // The guest's bytes are bounded and made printable in the message.
  std::string hostile = "---[ end Kernel panic - not syncing: \x1b[2J" + std::string(5000, 'x');
  stop = write(hostile + "\n");
  ASSERT_TRUE(stop);
  EXPECT_LT(stop->message.size(), 600u);
  EXPECT_EQ(stop->message.find('\x1b'), std::string::npos);
}

TEST(Serial16550Test, ScratchRegisterAndStatus) {
  auto sink = *SerialSink::Create(false, "");
  Serial16550 s(0x3f8, sink.get());
  WriteReg(s, 0x3ff, 0x5c);
  EXPECT_EQ(ReadReg(s, 0x3ff), 0x5c);
  EXPECT_EQ(ReadReg(s, 0x3fd) & 0x60, 0x60);
  EXPECT_EQ(ReadReg(s, 0x3fa) & 0x01, 0x01);  // no interrupt pending
  EXPECT_EQ(ReadReg(s, 0x3f8), 0);            // no input
}

TEST(SerialSinkTest, LogFileGetsEveryByte) {
  std::string path = ::testing::TempDir() + "/serial_sink_test.log";
  {
    auto sink = *SerialSink::Create(false, path);
    for (char c : std::string("line one\npartial")) sink->Put(static_cast<uint8_t>(c));
  }
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), "line one\npartial");
  ::unlink(path.c_str());
}

TEST(SerialSinkTest, UnwritableLogIsAnError) {
  auto sink = SerialSink::Create(false, "/nonexistent-dir/x.log");
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sink.status().message(), HasSubstr("--serial-log /nonexistent-dir/x.log"));
}

TEST(IoBusTest, FindsDeviceByRange) {
  ExitPort exit_port;
  PostPort post;
  IoBus bus;
  bus.Register(0xf4, 4, &exit_port);
  bus.Register(0x80, 1, &post);
  EXPECT_EQ(bus.Find(0xf4), &exit_port);
  EXPECT_EQ(bus.Find(0xf7), &exit_port);
  EXPECT_EQ(bus.Find(0xf8), nullptr);
  EXPECT_EQ(bus.Find(0x80), &post);
  EXPECT_EQ(bus.Find(0x81), nullptr);
}

TEST(IoBusTest, PostPortSwallowsWrites) {
  PostPort post;
  IoBus bus;
  bus.Register(0x80, 1, &post);
  uint8_t v = 0x12;
  EXPECT_FALSE(bus.Write(0, 0x80, {&v, 1}));
  EXPECT_FALSE(bus.Read(0, 0x80, {&v, 1}));
  EXPECT_EQ(v, 0xff);
}

// A byte at TLBSCOPE_MARK_PORT is a GuestMark event in the writing vCPU's
// order, between that vCPU's events before and after the OUT.
TEST(MarkPortTest, EachByteIsAMarkInTheWritersOrder) {
  TracePipeline trace(2);
  test_support::CollectSink sink;
  trace.AddSink(&sink);
  trace.Start();
  MarkPort mark;
  mark.SetTrace(&trace);
  IoBus bus;
  bus.Register(TLBSCOPE_MARK_PORT, 1, &mark);
  v1::Event before;
  before.mutable_guest_log()->set_text("before");
  trace.Append(1, std::move(before));
  uint8_t v = TLBSCOPE_MARK_COUNTERS_READ_BEGIN;
  EXPECT_FALSE(bus.Write(1, TLBSCOPE_MARK_PORT, {&v, 1}));
  v = TLBSCOPE_MARK_COUNTERS_READ_END;
  EXPECT_FALSE(bus.Write(0, TLBSCOPE_MARK_PORT, {&v, 1}));
  v = 0x77;  // a mark tlbscope does not name is kept as it came
  EXPECT_FALSE(bus.Write(1, TLBSCOPE_MARK_PORT, {&v, 1}));
  EXPECT_FALSE(bus.Read(0, TLBSCOPE_MARK_PORT, {&v, 1}));
  EXPECT_EQ(v, 0xff);
  trace.Finish(v1::TraceEnd());
  ASSERT_EQ(sink.all.size(), 4u);
  EXPECT_EQ(mark.marks(), 3u);
  std::vector<std::pair<uint32_t, int>> marks;
  for (const v1::Event& e : sink.all) {
    if (e.has_guest_mark()) marks.emplace_back(e.vcpu(), e.guest_mark().mark());
    if (e.has_guest_log()) EXPECT_EQ(e.vcpu_sequence(), 0u) << "the log came first on vCPU 1";
  }
  EXPECT_EQ(marks, (std::vector<std::pair<uint32_t, int>>{{1, v1::GuestMark::COUNTERS_READ_BEGIN},
                                                          {0, v1::GuestMark::COUNTERS_READ_END},
                                                          {1, 0x77}}));
}

TEST(MarkPortTest, WithoutATraceMarksAreCountedOnly) {
  MarkPort mark;
  uint8_t v = 1;
  EXPECT_FALSE(mark.Write(0, TLBSCOPE_MARK_PORT, {&v, 1}));
  EXPECT_FALSE(mark.Write(0, TLBSCOPE_MARK_PORT, {}));
  EXPECT_EQ(mark.marks(), 1u);
}

}  // namespace
}  // namespace tlbscope
