// DispatchExit driven by made-up kvm_run exits and the real devices.

#include "vmm/vcpu/exit_dispatch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/fake_run.h"
#include "tlbscope/probe_abi.h"
#include "vmm/devices/exit_port.h"
#include "vmm/devices/probe_channel.h"
#include "vmm/devices/serial.h"
#include "vmm/vcpu/vcpu_runner.h"

namespace tlbscope {
namespace {

using testing::FakeRun;
using ::testing::HasSubstr;

class ExitDispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(4 << 20));
    sink_ = *SerialSink::Create(/*to_stdout=*/false, "");
    serial_ = std::make_unique<Serial16550>(TLBSCOPE_COM1_PORT, sink_.get());
    probe_ = std::make_unique<ProbeChannel>(mem_.get());
    bus_.Register(TLBSCOPE_COM1_PORT, 8, serial_.get());
    bus_.Register(TLBSCOPE_EXIT_PORT, 4, &exit_port_);
    bus_.Register(TLBSCOPE_PROBE_PORT, 4, probe_.get());
  }

  tlbscope_probe_msg Msg(uint16_t kind) {
    tlbscope_probe_msg m{};
    m.magic = TLBSCOPE_PROBE_MAGIC;
    m.abi_version = TLBSCOPE_PROBE_ABI_VERSION;
    m.kind = kind;
    m.cpu = 2;
    return m;
  }
  ExitAction SendProbe(const tlbscope_probe_msg& m, uint32_t gpa = 0x9000) {
    EXPECT_TRUE(mem_->WriteObject(gpa, m).ok());
    return DispatchExit(fake_.Out32(TLBSCOPE_PROBE_PORT, gpa), 2, bus_);
  }

  FakeRun fake_;
  std::unique_ptr<GuestMemory> mem_;
  std::unique_ptr<SerialSink> sink_;
  std::unique_ptr<Serial16550> serial_;
  ExitPort exit_port_;
  std::unique_ptr<ProbeChannel> probe_;
  IoBus bus_;
};

TEST_F(ExitDispatchTest, SerialOutputGoesToSinkAndContinues) {
  ExitAction a = DispatchExit(fake_.Io(KVM_EXIT_IO_OUT, 0x3f8, 1, 1, {'A'}), 0, bus_);
  EXPECT_EQ(a.kind, ExitAction::Kind::kContinue);
  EXPECT_EQ(sink_->transcript(), "A");
}

TEST_F(ExitDispatchTest, StringOutputHandlesEveryElement) {
  ExitAction a = DispatchExit(fake_.Io(KVM_EXIT_IO_OUT, 0x3f8, 1, 3, {'a', 'b', 'c'}), 0, bus_);
  EXPECT_EQ(a.kind, ExitAction::Kind::kContinue);
  EXPECT_EQ(sink_->transcript(), "abc");
}

TEST_F(ExitDispatchTest, SerialLsrReadFillsRunData) {
  kvm_run& r = fake_.Io(KVM_EXIT_IO_IN, 0x3fd, 1, 1);
  fake_.io_data()[0] = 0x00;
  ExitAction a = DispatchExit(r, 0, bus_);
  EXPECT_EQ(a.kind, ExitAction::Kind::kContinue);
  EXPECT_EQ(fake_.io_data()[0], 0x60);  // THRE | TEMT
}

TEST_F(ExitDispatchTest, ExitPortStopsWithGuestCode) {
  ExitAction a = DispatchExit(fake_.Io(KVM_EXIT_IO_OUT, 0xf4, 1, 1, {7}), 0, bus_);
  ASSERT_EQ(a.kind, ExitAction::Kind::kStop);
  EXPECT_EQ(a.stop.reason, StopReason::kGuestExit);
  EXPECT_EQ(a.stop.guest_code, 7);
  EXPECT_EQ(ExitCodeFor(a.stop.reason, a.stop.guest_code), 7);
}

TEST_F(ExitDispatchTest, ExitPortTakesLowByteOfWideWrite) {
  ExitAction a = DispatchExit(fake_.Out32(0xf4, 0x1234), 0, bus_);
  ASSERT_EQ(a.kind, ExitAction::Kind::kStop);
  EXPECT_EQ(a.stop.guest_code, 0x34);
}

TEST_F(ExitDispatchTest, UnknownPortStopsAndNamesPort) {
  ExitAction a = DispatchExit(fake_.Io(KVM_EXIT_IO_OUT, 0x1234, 1, 1, {0x5a}), 3, bus_);
  ASSERT_EQ(a.kind, ExitAction::Kind::kStop);
  EXPECT_EQ(a.stop.reason, StopReason::kUnknownPort);
  EXPECT_THAT(a.stop.message, HasSubstr("unknown I/O port 0x1234"));
  EXPECT_THAT(a.stop.message, HasSubstr("0x5a"));
}

TEST_F(ExitDispatchTest, UnknownPortReadStops) {
  ExitAction a = DispatchExit(fake_.Io(KVM_EXIT_IO_IN, 0x71, 1, 1), 0, bus_);
  ASSERT_EQ(a.kind, ExitAction::Kind::kStop);
  EXPECT_THAT(a.stop.message, HasSubstr("read from unknown I/O port 0x71"));
}

TEST_F(ExitDispatchTest, ShutdownIsTripleFault) {
  ExitAction a = DispatchExit(fake_.Reason(KVM_EXIT_SHUTDOWN), 0, bus_);
  ASSERT_EQ(a.kind, ExitAction::Kind::kStop);
  EXPECT_EQ(a.stop.reason, StopReason::kTripleFault);
  EXPECT_THAT(a.stop.message, HasSubstr("triple fault"));
  EXPECT_EQ(ExitCodeFor(a.stop.reason, 0), 3);
}

// KVM on AMD SVM re-initialises a vCPU after a shutdown: its RIP is the
// reset vector, which must not be reported as where the guest faulted.
TEST(VcpuStopTest, ATripleFaultAtTheResetVectorSaysWhereIsUnknown) {
  VcpuStop svm{33, StopRequest{StopReason::kTripleFault, 0, "guest shut down (triple fault)"},
               0xfff0, true};
  EXPECT_EQ(svm.Describe(),
            "vcpu 33: guest shut down (triple fault); where is not known (rip reads 0xfff0, the "
            "reset vector: KVM on AMD SVM re-initialises a vCPU that shut down)");
  VcpuStop vmx = svm;
  vmx.rip = 0xffffffff81001234;
  EXPECT_EQ(vmx.Describe(), "vcpu 33: guest shut down (triple fault) at rip 0xffffffff81001234");
}

TEST_F(ExitDispatchTest, EmulationFailureShowsInstructionBytes) {
  kvm_run& r = fake_.Reason(KVM_EXIT_INTERNAL_ERROR);
  r.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
  r.emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
  r.emulation_failure.insn_size = 4;
  const uint8_t invpcid[] = {0x66, 0x0f, 0x38, 0x82};
  std::memcpy(r.emulation_failure.insn_bytes, invpcid, 4);
  ExitAction a = DispatchExit(r, 1, bus_);
  // The trap engine may claim it (INVPCID on a CPU without it); else it stops.
  ASSERT_EQ(a.kind, ExitAction::Kind::kTrapCandidate);
  EXPECT_EQ(a.stop.reason, StopReason::kInternalError);
  EXPECT_THAT(a.stop.message, HasSubstr("emulation failure"));
  EXPECT_THAT(a.stop.message, HasSubstr("66 0f 38 82"));
}

TEST_F(ExitDispatchTest, EntryFailureNamesHardwareReason) {
  kvm_run& r = fake_.Reason(KVM_EXIT_FAIL_ENTRY);
  r.fail_entry.hardware_entry_failure_reason = 0x21;
  ExitAction a = DispatchExit(r, 0, bus_);
  EXPECT_EQ(a.stop.reason, StopReason::kEntryFailure);
  EXPECT_THAT(a.stop.message, HasSubstr("0x21"));
}

TEST_F(ExitDispatchTest, MmioWithoutDeviceStops) {
  kvm_run& r = fake_.Reason(KVM_EXIT_MMIO);
  r.mmio.phys_addr = 0xd0000000;
  r.mmio.len = 4;
  r.mmio.is_write = 1;
  ExitAction a = DispatchExit(r, 0, bus_);
  EXPECT_EQ(a.stop.reason, StopReason::kUnhandledExit);
  EXPECT_THAT(a.stop.message, HasSubstr("0xd0000000"));
}

TEST_F(ExitDispatchTest, DebugExitIsATrapCandidate) {
  kvm_run& r = fake_.Reason(KVM_EXIT_DEBUG);
  r.debug.arch.exception = 1;
  r.debug.arch.dr6 = 0xffff0ff1;
  ExitAction a = DispatchExit(r, 0, bus_);
  ASSERT_EQ(a.kind, ExitAction::Kind::kTrapCandidate);
  EXPECT_EQ(a.stop.reason, StopReason::kUnhandledExit);
  EXPECT_THAT(a.stop.message, HasSubstr("dr6 0xffff0ff1"));
}

TEST_F(ExitDispatchTest, SignalExitContinues) {
  EXPECT_EQ(DispatchExit(fake_.Reason(KVM_EXIT_INTR), 0, bus_).kind, ExitAction::Kind::kContinue);
}

TEST_F(ExitDispatchTest, UnknownExitReasonStops) {
  ExitAction a = DispatchExit(fake_.Reason(4242), 0, bus_);
  EXPECT_EQ(a.stop.reason, StopReason::kUnhandledExit);
  EXPECT_THAT(a.stop.message, HasSubstr("4242"));
}

TEST_F(ExitDispatchTest, ProbeResultIsRecorded) {
  tlbscope_probe_msg m = Msg(TLBSCOPE_PROBE_RESULT);
  m.arg[0] = 1;
  std::strcpy(m.name, "cpus_online");
  std::strcpy(m.text, "4 of 4");
  EXPECT_EQ(SendProbe(m).kind, ExitAction::Kind::kContinue);
  m.arg[0] = 0;
  std::strcpy(m.name, "invlpg");
  EXPECT_EQ(SendProbe(m).kind, ExitAction::Kind::kContinue);
  const GuestReport& rep = probe_->report();
  ASSERT_EQ(rep.checks.size(), 2u);
  EXPECT_EQ(rep.checks[0].name, "cpus_online");
  EXPECT_TRUE(rep.checks[0].passed);
  EXPECT_EQ(rep.checks[0].detail, "4 of 4");
  EXPECT_EQ(rep.checks[0].cpu, 2);
  EXPECT_FALSE(rep.checks[1].passed);
  EXPECT_EQ(rep.passed(), 1);
  EXPECT_EQ(rep.failed(), 1);
}

TEST_F(ExitDispatchTest, ProbeAssertStopsWithFileAndLine) {
  tlbscope_probe_msg m = Msg(TLBSCOPE_PROBE_ASSERT);
  std::strcpy(m.file, "selftest.c");
  m.line = 42;
  std::strcpy(m.text, "x == y");
  ExitAction a = SendProbe(m);
  ASSERT_EQ(a.kind, ExitAction::Kind::kStop);
  EXPECT_EQ(a.stop.reason, StopReason::kGuestAssert);
  EXPECT_THAT(a.stop.message, HasSubstr("selftest.c:42: x == y"));
}

TEST_F(ExitDispatchTest, ProbeExceptionStopsWithVectorAndRip) {
  tlbscope_probe_msg m = Msg(TLBSCOPE_PROBE_EXCEPTION);
  m.arg[0] = 14;
  m.arg[1] = 0x101234;
  m.arg[2] = 2;
  m.arg[3] = 0xdead000;
  ExitAction a = SendProbe(m);
  ASSERT_EQ(a.kind, ExitAction::Kind::kStop);
  EXPECT_EQ(a.stop.reason, StopReason::kGuestException);
  EXPECT_THAT(a.stop.message, HasSubstr("#PF (vector 14) at rip 0x101234, error code 0x2"));
  EXPECT_THAT(a.stop.message, HasSubstr("cr2 0xdead000"));
}

TEST_F(ExitDispatchTest, ProbeBadMagicStops) {
  tlbscope_probe_msg m = Msg(TLBSCOPE_PROBE_RESULT);
  m.magic = 0x12345678;
  ExitAction a = SendProbe(m);
  EXPECT_EQ(a.stop.reason, StopReason::kBadProbeMessage);
  EXPECT_THAT(a.stop.message, HasSubstr("magic 0x12345678"));
}

TEST_F(ExitDispatchTest, ProbeAddressOutsideMemoryStops) {
  ExitAction a = DispatchExit(fake_.Out32(TLBSCOPE_PROBE_PORT, 0xfff00000), 0, bus_);
  EXPECT_EQ(a.stop.reason, StopReason::kBadProbeMessage);
  EXPECT_THAT(a.stop.message, HasSubstr("outside guest memory"));
}

TEST_F(ExitDispatchTest, ProbeNarrowWriteStops) {
  ExitAction a = DispatchExit(fake_.Io(KVM_EXIT_IO_OUT, TLBSCOPE_PROBE_PORT, 1, 1, {1}), 0, bus_);
  EXPECT_EQ(a.stop.reason, StopReason::kBadProbeMessage);
}

TEST_F(ExitDispatchTest, ProbeUnknownKindStops) {
  ExitAction a = SendProbe(Msg(99));
  EXPECT_EQ(a.stop.reason, StopReason::kBadProbeMessage);
  EXPECT_THAT(a.stop.message, HasSubstr("unknown kind 99"));
}

TEST_F(ExitDispatchTest, ProbeStringsAreBoundedAndSanitised) {
  tlbscope_probe_msg m = Msg(TLBSCOPE_PROBE_RESULT);
  std::memset(m.name, 'x', sizeof(m.name));  // no NUL at all
  m.text[0] = '\x1b';
  m.text[1] = 'A';
  EXPECT_EQ(SendProbe(m).kind, ExitAction::Kind::kContinue);
  EXPECT_EQ(probe_->report().checks[0].name, std::string(sizeof(m.name), 'x'));
  EXPECT_EQ(probe_->report().checks[0].detail, "?A");
}

TEST_F(ExitDispatchTest, ProbeHelloAndCpuOnline) {
  tlbscope_probe_msg m = Msg(TLBSCOPE_PROBE_HELLO);
  std::strcpy(m.name, "guest-probe");
  m.arg[0] = 4;
  m.cpu = 0;
  SendProbe(m);
  m = Msg(TLBSCOPE_PROBE_CPU_ONLINE);
  m.arg[0] = 3;
  SendProbe(m);
  EXPECT_EQ(probe_->report().guest_name, "guest-probe");
  EXPECT_EQ(probe_->report().cpus_found, 4);
  EXPECT_EQ(probe_->report().cpus_online, (std::set<int>{0, 3}));
}

}  // namespace
}  // namespace tlbscope
