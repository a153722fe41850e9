// The vCPU state machine on a real vCPU: pause, resume and stop a guest that
// spins, and a guest that exits by itself.

#include "vmm/vcpu/vcpu_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/integration/run_helper.h"
#include "vmm/boot/cpu_setup.h"
#include "vmm/devices/exit_port.h"
#include "vmm/kvm/vm.h"

namespace tlbscope {
namespace {

class VcpuRunnerTest : public ::testing::Test {
 protected:
  void Boot(std::vector<uint8_t> code) {
    sys_ = std::make_unique<KvmSystem>(*KvmSystem::Open());
    vm_ = std::make_unique<Vm>(*Vm::Create(*sys_));
    mem_ = std::make_unique<GuestMemory>(*GuestMemory::Create(4 << 20));
    ASSERT_TRUE(vm_->MapMemory(0, 0, *mem_).ok());
    ASSERT_TRUE(WriteBootGdt(*mem_).ok());
    ASSERT_TRUE(mem_->Write(0x200000, code).ok());
    vcpu_ = std::make_unique<Vcpu>(*vm_->CreateVcpu(0));
    ASSERT_TRUE(vcpu_->SetCpuid(CpuidForVcpu(*sys_->SupportedCpuid(), 0)).ok());
    LoadedKernel k{};
    k.entry = 0x200000;
    ASSERT_TRUE(SetupBootCpu(*vcpu_, k).ok());
    bus_.Register(0xf4, 1, &exit_port_);
    VcpuRunner::InstallKickHandler();
    runner_ = std::make_unique<VcpuRunner>(vcpu_.get(), &bus_, [this](const VcpuStop& s) {
      last_stop_reason_ = static_cast<int>(s.request.reason);
      ++stops_;
    });
  }

  std::unique_ptr<KvmSystem> sys_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<GuestMemory> mem_;
  std::unique_ptr<Vcpu> vcpu_;
  ExitPort exit_port_;
  IoBus bus_;
  std::unique_ptr<VcpuRunner> runner_;
  std::atomic<int> last_stop_reason_{-1};
  std::atomic<int> stops_{0};
};

// Two pausers (a vCPU stepping over a lifted int3, a --hold reading RIP):
// the vCPU runs again only after both resumed.
TEST_F(VcpuRunnerTest, PausesNest) {
  REQUIRE_KVM();
  Boot({0xeb, 0xfe});  // jmp .
  runner_->Start();
  runner_->Pause();
  runner_->Pause();
  runner_->Resume();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(runner_->state(), VcpuState::kPaused);
  runner_->Resume();
  for (int i = 0; i < 200 && runner_->state() != VcpuState::kRunning; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(runner_->state(), VcpuState::kRunning);
  runner_->Resume();  // one too many: no effect
  runner_->Stop(StopRequest{StopReason::kStoppedByVmm, 0, "test stop"});
  runner_->Join();
  EXPECT_EQ(runner_->state(), VcpuState::kStopped);
}

TEST_F(VcpuRunnerTest, PauseResumeStopASpinningGuest) {
  REQUIRE_KVM();
  Boot({0xeb, 0xfe});  // jmp .
  EXPECT_EQ(runner_->state(), VcpuState::kCreated);
  runner_->Start();
  runner_->Pause();
  EXPECT_EQ(runner_->state(), VcpuState::kPaused);
  runner_->Resume();
  runner_->Pause();
  EXPECT_EQ(runner_->state(), VcpuState::kPaused);
  runner_->Resume();
  runner_->Stop(StopRequest{StopReason::kStoppedByVmm, 0, "test stop"});
  runner_->Join();
  EXPECT_EQ(runner_->state(), VcpuState::kStopped);
  ASSERT_TRUE(runner_->stop().has_value());
  EXPECT_EQ(runner_->stop()->request.reason, StopReason::kStoppedByVmm);
  EXPECT_EQ(runner_->stop()->request.message, "test stop");
  EXPECT_EQ(stops_.load(), 1);
}

TEST_F(VcpuRunnerTest, GuestExitReportsReasonAndRip) {
  REQUIRE_KVM();
  Boot({0xb0, 0x05, 0xe6, 0xf4, 0xeb, 0xfe});  // mov $5,%al; out %al,$0xf4; jmp .
  runner_->Start();
  runner_->Join();
  ASSERT_TRUE(runner_->stop().has_value());
  EXPECT_EQ(runner_->stop()->request.reason, StopReason::kGuestExit);
  EXPECT_EQ(runner_->stop()->request.guest_code, 5);
  EXPECT_TRUE(runner_->stop()->rip_known);
  EXPECT_GE(runner_->stop()->rip, 0x200002u);
  EXPECT_LE(runner_->stop()->rip, 0x200004u);
  EXPECT_EQ(last_stop_reason_.load(), static_cast<int>(StopReason::kGuestExit));
}

TEST_F(VcpuRunnerTest, StopBeforeStart) {
  REQUIRE_KVM();
  Boot({0xeb, 0xfe});
  runner_->Stop(StopRequest{StopReason::kTimeout, 0, "never ran"});
  EXPECT_EQ(runner_->state(), VcpuState::kStopped);
  EXPECT_EQ(runner_->stop()->request.reason, StopReason::kTimeout);
}

}  // namespace
}  // namespace tlbscope
