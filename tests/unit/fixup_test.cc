// The emulation fixups without KVM: the decoding of what the emulator
// rejects, and each instruction's pure fix function on plain registers and
// guest memory (a fake vCPU: no paging, so linear = physical).
#include "vmm/trap/fixup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>

#include "vmm/trap/emulation_failure.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

TEST(EmulationFixupTest, DecodesWhatTheEmulatorRejects) {
  using A = FailureFix::Action;
  const uint8_t int3[] = {0xcc};
  FailureFix f = ClassifyEmulationFailure(int3, 0x1000, 64);
  EXPECT_EQ(f.action, A::kInjectBreakpoint);
  EXPECT_EQ(f.length, 1);
  const uint8_t cx16[] = {0xf0, 0x48, 0x0f, 0xc7, 0x4e, 0x10};  // lock cmpxchg16b 0x10(%rsi)
  f = ClassifyEmulationFailure(cx16, 0x1000, 64);
  EXPECT_EQ(f.action, A::kCmpxchg16b);
  EXPECT_EQ(f.length, 6);
  EXPECT_EQ(f.mem.base, X86_REG_RSI);
  EXPECT_EQ(f.mem.disp, 0x10);
  const uint8_t xsaves[] = {0x48, 0x0f, 0xc7, 0x2f};  // xsaves64 (%rdi)
  EXPECT_EQ(ClassifyEmulationFailure(xsaves, 0, 64).action, A::kInjectInvalidOpcode);
  const uint8_t xrstor[] = {0x48, 0x0f, 0xae, 0x2f};  // xrstor64 (%rdi)
  EXPECT_EQ(ClassifyEmulationFailure(xrstor, 0, 64).action, A::kInjectInvalidOpcode);
  const uint8_t popcnt[] = {0xf3, 0x48, 0x0f, 0xb8, 0xc7};  // popcnt %rdi,%rax
  f = ClassifyEmulationFailure(popcnt, 0, 64);
  EXPECT_EQ(f.action, A::kPopcnt);
  EXPECT_EQ(f.dest, X86_REG_RAX);
  EXPECT_EQ(f.source, X86_REG_RDI);
  EXPECT_EQ(f.size, 8);
  EXPECT_EQ(f.length, 5);
  const uint8_t clac[] = {0x0f, 0x01, 0xca};
  EXPECT_EQ(ClassifyEmulationFailure(clac, 0, 64).action, A::kClac);
  const uint8_t stac[] = {0x0f, 0x01, 0xcb};
  EXPECT_EQ(ClassifyEmulationFailure(stac, 0, 64).action, A::kStac);
  const uint8_t wrgsbase[] = {0xf3, 0x48, 0x0f, 0xae, 0xdf};  // wrgsbase %rdi
  f = ClassifyEmulationFailure(wrgsbase, 0, 64);
  EXPECT_EQ(f.action, A::kWriteGsBase);
  EXPECT_EQ(f.source, X86_REG_RDI);
  const uint8_t rdfsbase[] = {0xf3, 0x48, 0x0f, 0xae, 0xc0};  // rdfsbase %rax
  f = ClassifyEmulationFailure(rdfsbase, 0, 64);
  EXPECT_EQ(f.action, A::kReadFsBase);
  EXPECT_EQ(f.dest, X86_REG_RAX);
  const uint8_t fwait[] = {0x9b, 0x65, 0x48, 0xc7, 0x05};  // wait; then a mov
  f = ClassifyEmulationFailure(fwait, 0, 64);
  EXPECT_EQ(f.action, A::kFwait);
  EXPECT_EQ(f.length, 1);
  const uint8_t ldmxcsr[] = {0x0f, 0xae, 0x54, 0x24, 0x04};  // ldmxcsr 4(%rsp)
  f = ClassifyEmulationFailure(ldmxcsr, 0, 64);
  EXPECT_EQ(f.action, A::kLdmxcsr);
  EXPECT_EQ(f.mem.base, X86_REG_RSP);
  EXPECT_EQ(f.mem.disp, 4);
  const uint8_t stmxcsr[] = {0x0f, 0xae, 0x5c, 0x24, 0x04};  // stmxcsr 4(%rsp)
  EXPECT_EQ(ClassifyEmulationFailure(stmxcsr, 0, 64).action, A::kStmxcsr);
  const uint8_t nop[] = {0x90};
  EXPECT_EQ(ClassifyEmulationFailure(nop, 0, 64).action, A::kNone);
}

class FixupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(1 << 20));
    sregs_.cr0 = 1;       // protected mode, no paging
    sregs_.efer = 0x500;  // LME | LMA
    sregs_.cs.l = 1;      // 64-bit code
    regs_.rip = 0x1000;
    regs_.rflags = 2;
  }
  template <size_t N>
  FixOutcome Run(const uint8_t (&bytes)[N]) {
    fix_ = ClassifyEmulationFailure(bytes, regs_.rip, 64);
    FixFunction fn = FixFor(fix_.action);
    EXPECT_NE(fn, nullptr) << fix_.text;
    if (fn == nullptr) return FixOutcome::Decline();
    FixInput in{regs_, sregs_, *mem_, mxcsr_};
    return fn(fix_, in);
  }
  kvm_regs regs_{};
  kvm_sregs sregs_{};
  uint32_t mxcsr_ = 0x1f80;
  FailureFix fix_;
  std::unique_ptr<GuestMemory> mem_;
};

TEST_F(FixupTest, Int3RetiresAndRaisesBreakpoint) {
  const uint8_t int3[] = {0xcc};
  FixOutcome o = Run(int3);
  EXPECT_TRUE(o.retire);
  EXPECT_EQ(o.vector, kBreakpointVector);
}

TEST_F(FixupTest, XsaveRaisesUdOnlyWhenTheGuestWasNotToldOfXsave) {
  const uint8_t xsave[] = {0x0f, 0xae, 0x27};  // xsave (%rdi)
  FixOutcome o = Run(xsave);
  EXPECT_FALSE(o.retire);
  EXPECT_EQ(o.vector, kInvalidOpcodeVector);
  sregs_.cr4 |= 1ull << 18;  // OSXSAVE
  o = Run(xsave);
  ASSERT_TRUE(o.stop.has_value());
  EXPECT_THAT(*o.stop, HasSubstr("noxsave"));
  EXPECT_THAT(*o.stop, HasSubstr("0x1000"));
}

TEST_F(FixupTest, FwaitRaisesNmOnlyWithMpAndTs) {
  const uint8_t fwait[] = {0x9b};
  EXPECT_TRUE(Run(fwait).retire);
  sregs_.cr0 |= (1 << 1) | (1 << 3);
  FixOutcome o = Run(fwait);
  EXPECT_FALSE(o.retire);
  EXPECT_EQ(o.vector, kNoMathVector);
}

TEST_F(FixupTest, ClacAndStacSetAc) {
  const uint8_t stac[] = {0x0f, 0x01, 0xcb}, clac[] = {0x0f, 0x01, 0xca};
  EXPECT_TRUE(Run(stac).retire);
  EXPECT_EQ(regs_.rflags & (1ull << 18), 1ull << 18);
  EXPECT_TRUE(Run(clac).retire);
  EXPECT_EQ(regs_.rflags & (1ull << 18), 0u);
}

TEST_F(FixupTest, LdmxcsrLoadsAndRefusesReservedBits) {
  const uint8_t ldmxcsr[] = {0x0f, 0xae, 0x17};  // ldmxcsr (%rdi)
  regs_.rdi = 0x3000;
  ASSERT_TRUE(mem_->WriteObject<uint32_t>(0x3000, 0x1fa0).ok());
  FixOutcome o = Run(ldmxcsr);
  EXPECT_TRUE(o.retire);
  EXPECT_TRUE(o.mxcsr_changed);
  EXPECT_EQ(mxcsr_, 0x1fa0u);
  ASSERT_TRUE(mem_->WriteObject<uint32_t>(0x3000, 0x10000).ok());
  o = Run(ldmxcsr);
  EXPECT_FALSE(o.retire);
  EXPECT_EQ(o.vector, kGpVector);
  EXPECT_EQ(o.error_code, 0u);
  EXPECT_EQ(mxcsr_, 0x1fa0u);
}

TEST_F(FixupTest, StmxcsrStoresAndStopsOutsideMemory) {
  const uint8_t stmxcsr[] = {0x0f, 0xae, 0x1f};  // stmxcsr (%rdi)
  regs_.rdi = 0x3004;
  EXPECT_TRUE(Run(stmxcsr).retire);
  EXPECT_EQ(*mem_->ReadObject<uint32_t>(0x3004), 0x1f80u);
  regs_.rdi = 2ull << 20;  // beyond the 1 MiB of guest memory
  FixOutcome o = Run(stmxcsr);
  ASSERT_TRUE(o.stop.has_value());
  EXPECT_THAT(*o.stop, HasSubstr("stmxcsr"));
}

TEST_F(FixupTest, FsGsBaseReadWriteAndNonCanonicalGp) {
  const uint8_t wrgsbase[] = {0xf3, 0x48, 0x0f, 0xae, 0xdf};  // wrgsbase %rdi
  const uint8_t rdfsbase[] = {0xf3, 0x48, 0x0f, 0xae, 0xc0};  // rdfsbase %rax
  regs_.rdi = 0xffff888000000000ull;
  FixOutcome o = Run(wrgsbase);
  EXPECT_TRUE(o.retire);
  EXPECT_TRUE(o.sregs_changed);
  EXPECT_EQ(sregs_.gs.base, 0xffff888000000000ull);
  regs_.rdi = 0x8000000000000000ull;  // non-canonical even with 57 bits
  o = Run(wrgsbase);
  EXPECT_EQ(o.vector, kGpVector);
  EXPECT_EQ(sregs_.gs.base, 0xffff888000000000ull);
  sregs_.fs.base = 0x7f0012345000ull;
  EXPECT_TRUE(Run(rdfsbase).retire);
  EXPECT_EQ(regs_.rax, 0x7f0012345000ull);
}

TEST_F(FixupTest, PopcntFromRegisterAndMemorySetsZf) {
  const uint8_t popcnt_reg[] = {0xf3, 0x48, 0x0f, 0xb8, 0xc7};  // popcnt %rdi,%rax
  const uint8_t popcnt_mem[] = {0xf3, 0x0f, 0xb8, 0x07};        // popcnt (%rdi),%eax
  regs_.rdi = 0xf0f0;
  regs_.rflags |= 1;  // CF: cleared by popcnt
  EXPECT_TRUE(Run(popcnt_reg).retire);
  EXPECT_EQ(regs_.rax, 8u);
  EXPECT_EQ(regs_.rflags & 0x8d5, 0u);
  regs_.rdi = 0x3000;
  ASSERT_TRUE(mem_->WriteObject<uint64_t>(0x3000, 0xffffffff00000000ull).ok());
  EXPECT_TRUE(Run(popcnt_mem).retire);
  EXPECT_EQ(regs_.rax, 0u);  // 32-bit operand: the low half only
  EXPECT_EQ(regs_.rflags & (1ull << 6), 1ull << 6);
}

TEST_F(FixupTest, Cmpxchg16bSwapsComparesAndRefusesMisalignment) {
  const uint8_t cx16[] = {0x48, 0x0f, 0xc7, 0x0f};  // cmpxchg16b (%rdi)
  regs_.rdi = 0x4000;
  const std::array<uint64_t, 2> old = {1, 2};
  ASSERT_TRUE(mem_->WriteObject(0x4000, old).ok());
  regs_.rax = 1, regs_.rdx = 2, regs_.rbx = 3, regs_.rcx = 4;
  EXPECT_TRUE(Run(cx16).retire);
  EXPECT_EQ(regs_.rflags & (1ull << 6), 1ull << 6);
  auto now = *mem_->ReadObject<std::array<uint64_t, 2>>(0x4000);
  EXPECT_EQ(now[0], 3u);
  EXPECT_EQ(now[1], 4u);
  regs_.rax = 9, regs_.rdx = 9;  // unequal: rdx:rax loaded, ZF clear
  EXPECT_TRUE(Run(cx16).retire);
  EXPECT_EQ(regs_.rax, 3u);
  EXPECT_EQ(regs_.rdx, 4u);
  EXPECT_EQ(regs_.rflags & (1ull << 6), 0u);
  regs_.rdi = 0x4008;
  FixOutcome o = Run(cx16);
  EXPECT_FALSE(o.retire);
  EXPECT_EQ(o.vector, kGpVector);
}

}  // namespace
}  // namespace tlbscope
