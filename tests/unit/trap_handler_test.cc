// The trap handlers on made-up vCPU state (a kvm_run with synced registers,
// as KVM_CAP_SYNC_REGS gives it), and the strategy planning.

#include "vmm/trap/trap_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/fake_vcpu.h"
#include "vmm/trap/operands.h"
#include "vmm/trap/strategy.h"

namespace tlbscope {
namespace {

using testing::FakeVcpu;

using ::testing::HasSubstr;

constexpr uint64_t kCr0Pg = 1ull << 31, kCr4Pae = 1 << 5, kCr4Pge = 1 << 7, kCr4Pcide = 1 << 17;

TlbSite Decode(std::vector<uint8_t> bytes, uint64_t rip, bool is64 = true) {
  std::optional<TlbSite> s = DecodeTlbInsn(bytes, rip, is64);
  EXPECT_TRUE(s.has_value());
  return s.value_or(TlbSite{});
}

TEST(DecodeCr3Test, Fields) {
  Cr3Fields f = DecodeCr3(0x8000000000005003ull, /*pcide=*/true);
  EXPECT_EQ(f.root, 0x5000u);
  EXPECT_EQ(f.pcid, 3);
  EXPECT_TRUE(f.noflush);
  EXPECT_FALSE(f.lam_u57);
  f = DecodeCr3((1ull << 61) | (1ull << 62) | 0x7000 | 0x18, /*pcide=*/false);
  EXPECT_EQ(f.root, 0x7000u);
  EXPECT_EQ(f.pcid, 0);  // bits 3, 4 are PWT/PCD without PCIDE
  EXPECT_TRUE(f.lam_u57);
  EXPECT_TRUE(f.lam_u48);
}

TEST(OperandsTest, EffectiveAddresses) {
  kvm_regs r{};
  kvm_sregs s{};
  s.efer = 1 << 10;
  s.cs.l = 1;
  r.rax = 0x1000;
  r.rcx = 3;
  r.rip = 0x400000;
  // invlpg 0x10(%rax,%rcx,8)
  EXPECT_EQ(*EffectiveAddress(Decode({0x0f, 0x01, 0x7c, 0xc8, 0x10}, r.rip), r, s), 0x1028u);
  // invlpg 0x100(%rip): from the next instruction (7 bytes)
  EXPECT_EQ(*EffectiveAddress(Decode({0x0f, 0x01, 0x3d, 0x00, 0x01, 0, 0}, r.rip), r, s),
            0x400107u);
  // invlpg %fs:(%rsi)
  r.rsi = 0x20;
  s.fs.base = 0x7f0000000000;
  EXPECT_EQ(*EffectiveAddress(Decode({0x64, 0x0f, 0x01, 0x3e}, r.rip), r, s), 0x7f0000000020u);
  // addr32 invlpg (%eax): upper half of RAX ignored
  r.rax = 0xdead00001234;
  EXPECT_EQ(*EffectiveAddress(Decode({0x67, 0x0f, 0x01, 0x38}, r.rip), r, s), 0x1234u);
  // 32-bit protected mode: the DS base applies.
  kvm_sregs pm{};
  pm.ds.base = 0x100;
  r.rax = 0x1000;
  EXPECT_EQ(*EffectiveAddress(Decode({0x0f, 0x01, 0x38}, r.rip, false), r, pm), 0x1100u);
}

TEST(Cr3HandlerTest, EmulatesANewRootAndAdvancesRip) {
  FakeVcpu v;
  v.regs().rdi = 0x5000;
  v.regs().rip = 0x1000e0;
  TlbSite site = Decode({0x0f, 0x22, 0xdf}, 0x1000e0);  // mov %rdi,%cr3
  VcpuStateView view = v.View();
  TrapOutcome out = HandleCr3Write(site, view, /*emulate=*/true);
  ASSERT_EQ(out.next, TrapOutcome::Next::kResume);
  EXPECT_TRUE(out.event.emulated);
  EXPECT_EQ(out.event.old_cr3, 0x1000u);
  EXPECT_EQ(out.event.new_cr3, 0x5000u);
  EXPECT_EQ(v.sregs().cr3, 0x5000u);
  EXPECT_EQ(v.regs().rip, 0x1000e3u);
  ASSERT_TRUE(view.Commit().ok());
  EXPECT_EQ(v.run()->kvm_dirty_regs, KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS);
}

TEST(Cr3HandlerTest, StepsWhenEmulationWouldNotBeExact) {
  TlbSite site = Decode({0x0f, 0x22, 0xdf}, 0x1000e0);
  {
    FakeVcpu v;  // same value: KVM would not reload the MMU
    v.regs().rdi = 0x1000;
    VcpuStateView view = v.View();
    EXPECT_EQ(HandleCr3Write(site, view, true).next, TrapOutcome::Next::kStepOver);
  }
  {
    FakeVcpu v;  // global pages must survive a real MOV to CR3
    v.regs().rdi = 0x5000;
    v.sregs().cr4 |= kCr4Pge;
    VcpuStateView view = v.View();
    EXPECT_EQ(HandleCr3Write(site, view, true).next, TrapOutcome::Next::kStepOver);
    EXPECT_EQ(v.sregs().cr3, 0x1000u) << "state untouched when stepping";
  }
  {
    FakeVcpu v;  // PCID contexts must survive too
    v.regs().rdi = 0x8000000000005002ull;
    v.sregs().cr4 |= kCr4Pcide;
    VcpuStateView view = v.View();
    TrapOutcome out = HandleCr3Write(site, view, true);
    EXPECT_EQ(out.next, TrapOutcome::Next::kStepOver);
    EXPECT_TRUE(out.event.pcide);
    EXPECT_EQ(DecodeCr3(out.event.new_cr3, true).pcid, 2);
  }
}

TEST(Cr3HandlerTest, ThirtyTwoBitModeTakesEax) {
  FakeVcpu v;
  v.sregs().efer = 0;
  v.sregs().cs.l = 0;
  v.sregs().cr0 = 1;
  v.regs().rax = 0xffffffff00108000ull;
  TlbSite site = Decode({0x0f, 0x22, 0xd8}, 0x100062, false);
  VcpuStateView view = v.View();
  TrapOutcome out = HandleCr3Write(site, view, true);
  EXPECT_EQ(out.event.new_cr3, 0x108000u);
}

TEST(InvlpgHandlerTest, AddressAndStep) {
  FakeVcpu v;
  v.regs().rdi = 0x8000101000ull;
  VcpuStateView view = v.View();
  TrapOutcome out = HandleInvlpg(Decode({0x0f, 0x01, 0x3f}, 0x1000f0), view);  // invlpg (%rdi)
  EXPECT_EQ(out.next, TrapOutcome::Next::kStepOver);
  EXPECT_EQ(out.event.linear, 0x8000101000ull);
}

class InvpcidHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(4 << 20));
    // Identity-map the first 2 MiB with one large page.
    ASSERT_TRUE(mem_->WriteObject<uint64_t>(0x1000, 0x2000 | 1).ok());
    ASSERT_TRUE(mem_->WriteObject<uint64_t>(0x2000, 0x3000 | 1).ok());
    ASSERT_TRUE(mem_->WriteObject<uint64_t>(0x3000, 0x0 | 1 | 0x80).ok());
    v_.regs().rdx = 0x9000;  // descriptor
    v_.regs().rip = 0x100100;
  }
  TrapOutcome Run(uint64_t type, uint64_t pcid, uint64_t addr) {
    uint64_t desc[2] = {pcid, addr};
    EXPECT_TRUE(mem_->WriteObject(0x9000, desc).ok());
    v_.regs().rsi = type;
    VcpuStateView view = v_.View();
    // invpcid (%rdx),%rsi
    return HandleInvpcid(Decode({0x66, 0x0f, 0x38, 0x82, 0x32}, 0x100100), view, *mem_, true);
  }
  FakeVcpu v_;
  std::unique_ptr<GuestMemory> mem_;
};

TEST_F(InvpcidHandlerTest, EveryTypeIsEmulatedAsAFullFlush) {
  for (uint64_t type = 0; type < 4; ++type) {
    v_.regs().rip = 0x100100;
    TrapOutcome out = Run(type, 0, 0x8000101000ull);
    ASSERT_EQ(out.next, TrapOutcome::Next::kResume) << type;
    EXPECT_TRUE(out.flush_tlb);
    EXPECT_EQ(out.event.invpcid_type, type);
    EXPECT_EQ(out.event.descriptor_gva, 0x9000u);
    uint64_t addr;
    std::memcpy(&addr, out.event.descriptor.data() + 8, 8);
    EXPECT_EQ(addr, 0x8000101000ull);
    EXPECT_EQ(v_.regs().rip, 0x100105u);
  }
}

TEST_F(InvpcidHandlerTest, FaultsAsTheSdmSays) {
  EXPECT_EQ(Run(4, 0, 0).next, TrapOutcome::Next::kInjectGp);       // bad type
  EXPECT_EQ(Run(0, 5, 0x1000).next, TrapOutcome::Next::kInjectGp);  // PCID without PCIDE
  EXPECT_EQ(Run(0, 0, 0x0000900000000000ull).next, TrapOutcome::Next::kInjectGp);  // non-canonical
  EXPECT_EQ(Run(1, 1ull << 12, 0).next, TrapOutcome::Next::kInjectGp);             // reserved bits
  EXPECT_EQ(Run(2, 5, 0x0000900000000000ull).next, TrapOutcome::Next::kResume);    // ignored fields
  EXPECT_EQ(v_.regs().rip, 0x100105u);
}

TEST_F(InvpcidHandlerTest, UnreadableDescriptorStops) {
  v_.regs().rdx = 0x40000000;  // not mapped
  v_.regs().rsi = 2;
  VcpuStateView view = v_.View();
  TrapOutcome out =
      HandleInvpcid(Decode({0x66, 0x0f, 0x38, 0x82, 0x32}, 0x100100), view, *mem_, true);
  EXPECT_EQ(out.next, TrapOutcome::Next::kStop);
  EXPECT_THAT(out.message, HasSubstr("descriptor at 0x40000000 cannot be read"));
}

HostCaps ThisKindOfHost() {
  HostCaps c;
  c.cap_guest_debug = true;
  c.hw_breakpoints = 4;
  c.hw_breakpoint_fires = true;
  c.single_step_works = true;
  c.invpcid = InvpcidBehaviour::kEmulationFailure;
  return c;
}

TEST(PlanTrapsTest, EmulatedInvpcidWhereTheCpuLacksIt) {
  TrapPlan p = PlanTraps(ThisKindOfHost());
  EXPECT_EQ(p.cr3, TrapStrategy::kHwBreakpointEmulate);
  EXPECT_EQ(p.invlpg, TrapStrategy::kHwBreakpointStep);
  EXPECT_EQ(p.invpcid, TrapStrategy::kEmulationFailure);
}

TEST(PlanTrapsTest, VmxHostWithInvpcidStepsIt) {
  HostCaps c = ThisKindOfHost();
  c.cpuid_invpcid = true;
  c.invpcid = InvpcidBehaviour::kExecutes;
  EXPECT_EQ(PlanTraps(c).invpcid, TrapStrategy::kHwBreakpointStep);
}

TEST(PlanTrapsTest, NoGuestDebugNoBreakpointStrategies) {
  HostCaps c;
  TrapPlan p = PlanTraps(c);
  EXPECT_EQ(p.cr3, TrapStrategy::kNone);
  EXPECT_EQ(p.invlpg, TrapStrategy::kNone);
  EXPECT_EQ(p.invpcid, TrapStrategy::kNone);
  EXPECT_THAT(p.Describe(), HasSubstr("mov-cr3=none"));
}

}  // namespace
}  // namespace tlbscope
