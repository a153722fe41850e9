// The two host-facing steps for VMX/SVM hosts (found running under
// kvm_amd) where the ioctl they need fails: one clear line each, no crash.
// FakeVcpu has no vCPU fd, so every KVM ioctl on it fails with EBADF.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/fake_vcpu.h"
#include "vmm/machine/guest_tsc.h"
#include "vmm/trap/emulation_fixups.h"

namespace tlbscope {
namespace {

using testing::FakeVcpu;
using ::testing::HasSubstr;

TEST(GuestTscTest, AVcpuWhoseTscCannotBeSetIsOneLine) {
  FakeVcpu v(3);
  ::testing::internal::CaptureStderr();
  AlignGuestTsc(v.vcpu());
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("vcpu 3: the guest's TSC cannot be set to the host's ("));
  EXPECT_THAT(err, HasSubstr("KVM_SET_MSRS"));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);
}

TEST(ForeignInt3Test, AGuestInt3ThatCannotBeGivenBackStopsTheRunNamingIt) {
  FakeVcpu v(1);
  kvm_run* r = v.run();
  r->exit_reason = KVM_EXIT_DEBUG;
  r->debug.arch.exception = 3;
  r->debug.arch.pc = 0xffffffff816d5652;
  EmulationFixups fixups(nullptr, nullptr, 2);
  std::optional<ExitAction> a = fixups.OnTrapExit(v.vcpu());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->kind, ExitAction::Kind::kStop);
  EXPECT_THAT(a->stop.message,
              HasSubstr("vcpu 1: the guest's own int3 at 0xffffffff816d5652 cannot be given "
                        "back: "));
  EXPECT_EQ(fixups.total().breakpoints, 0u);
}

TEST(ForeignInt3Test, OtherDebugExitsAreNotClaimed) {
  FakeVcpu v;
  v.run()->exit_reason = KVM_EXIT_DEBUG;
  v.run()->debug.arch.exception = 1;  // #DB: a step or a hardware breakpoint
  EmulationFixups fixups(nullptr, nullptr, 1);
  EXPECT_FALSE(fixups.OnTrapExit(v.vcpu()).has_value());
}

}  // namespace
}  // namespace tlbscope
