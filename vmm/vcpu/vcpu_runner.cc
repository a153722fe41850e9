#include "vmm/vcpu/vcpu_runner.h"

#include <pthread.h>
#include <signal.h>

#include "absl/strings/str_format.h"
#include "vmm/vcpu/exit_dispatch.h"

namespace tlbscope {
namespace {
void NoopHandler(int) {}
}  // namespace

const char* VcpuStateName(VcpuState s) {
  switch (s) {
    case VcpuState::kCreated:
      return "created";
    case VcpuState::kRunning:
      return "running";
    case VcpuState::kHeld:
      return "held";
    case VcpuState::kPaused:
      return "paused";
    case VcpuState::kStopped:
      return "stopped";
  }
  return "?";
}

std::string VcpuStop::Describe() const {
  if (vcpu < 0) return request.message;  // the VMM's own decision (timeout, signal)
  if (!rip_known || request.names_rip) return absl::StrFormat("vcpu %d: %s", vcpu, request.message);
  // On AMD SVM, KVM re-initialises the vCPU after a shutdown intercept (the
  // VMCB is undefined then): RIP reads as the reset vector, not the fault's.
  constexpr uint64_t kResetRip = 0xfff0;
  if (request.reason == StopReason::kTripleFault && rip == kResetRip) {
    return absl::StrFormat(
        "vcpu %d: %s; where is not known (rip reads 0xfff0, the reset vector: KVM on AMD SVM "
        "re-initialises a vCPU that shut down)",
        vcpu, request.message);
  }
  return absl::StrFormat("vcpu %d: %s at rip %#x", vcpu, request.message, rip);
}

VcpuRunner::VcpuRunner(Vcpu* vcpu, IoBus* bus, StopCallback on_stop, TrapExitHandler* traps,
                       TracePipeline* trace)
    : vcpu_(vcpu), bus_(bus), on_stop_(std::move(on_stop)), traps_(traps), trace_(trace) {}

VcpuRunner::~VcpuRunner() {
  if (thread_.joinable()) {
    Stop(StopRequest{StopReason::kStoppedByVmm, 0, "VMM shutting down"});
    Join();
  }
}

void VcpuRunner::InstallKickHandler() {
  struct sigaction sa {};
  sa.sa_handler = NoopHandler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  sigaction(VcpuRunner::kKickSignal, &sa, nullptr);
}

void VcpuRunner::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != VcpuState::kCreated) return;
  state_ = VcpuState::kRunning;
  thread_ = std::thread([this] { Loop(); });
}

void VcpuRunner::Kick() {
  // Order matters: immediate_exit first covers a thread that is about to
  // enter KVM_RUN; the signal covers one already inside it.
  vcpu_->run()->immediate_exit = 1;
  if (thread_.joinable()) pthread_kill(thread_.native_handle(), kKickSignal);
}

void VcpuRunner::Pause() {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == VcpuState::kCreated || state_ == VcpuState::kStopped || want_ == Want::kStop) {
    return;
  }
  ++pauses_;
  want_ = Want::kPause;
  // Parked, or held in a trap handler: it parks before it enters the guest.
  if (state_ != VcpuState::kRunning) return;
  Kick();
  cv_.wait(lock, [this] { return state_ != VcpuState::kRunning; });
}

void VcpuRunner::SetHeld(bool held) {
  std::lock_guard<std::mutex> lock(mu_);
  if (held && state_ == VcpuState::kRunning) state_ = VcpuState::kHeld;
  if (!held && state_ == VcpuState::kHeld) state_ = VcpuState::kRunning;
  cv_.notify_all();
}

void VcpuRunner::Resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (pauses_ == 0) return;
  if (--pauses_ > 0 || want_ != Want::kPause) return;
  want_ = Want::kRun;
  cv_.notify_all();
}

void VcpuRunner::Stop(StopRequest why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == VcpuState::kStopped || want_ == Want::kStop) return;
  want_ = Want::kStop;
  stop_request_ = std::move(why);
  if (state_ == VcpuState::kCreated) {
    state_ = VcpuState::kStopped;
    stop_ = VcpuStop{vcpu_->index(), *stop_request_};
    return;
  }
  Kick();
  cv_.notify_all();
}

void VcpuRunner::Join() {
  if (thread_.joinable()) thread_.join();
}

VcpuState VcpuRunner::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void VcpuRunner::Finish(VcpuStop stop) {
  if (!stop.rip_known) {
    if (absl::StatusOr<kvm_regs> regs = vcpu_->GetRegs(); regs.ok()) {
      stop.rip = regs->rip;
      stop.rip_known = true;
    }
  }
  if (trace_ != nullptr) {  // Finish runs on this vCPU's thread
    v1::Event e;
    v1::VcpuState* st = e.mutable_vcpu_state();
    st->set_state(v1::VcpuState::STOPPED);
    st->set_reason(std::string(StopReasonName(stop.request.reason)));
    st->set_message(stop.Describe());
    st->set_rip(stop.rip);
    trace_->Append(vcpu_->index(), std::move(e));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = VcpuState::kStopped;
    stop_ = stop;
    cv_.notify_all();
  }
  on_stop_(stop);
}

void VcpuRunner::Loop() {
  // The kick signal must reach this thread even if the caller blocked it.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kKickSignal);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);

  if (trace_ != nullptr) {
    v1::Event e;
    e.mutable_vcpu_state()->set_state(v1::VcpuState::RUNNING);
    trace_->Append(vcpu_->index(), std::move(e));
  }
  kvm_run* run = vcpu_->run();
  const uint64_t sync_mask = traps_ != nullptr ? traps_->sync_regs_mask() : 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (want_ == Want::kPause) {
        state_ = VcpuState::kPaused;
        cv_.notify_all();
        cv_.wait(lock);
      }
      if (want_ == Want::kStop) {
        lock.unlock();
        Finish(VcpuStop{vcpu_->index(), *stop_request_});
        return;
      }
      state_ = VcpuState::kRunning;
      cv_.notify_all();
      run->immediate_exit = 0;
    }
    run->kvm_valid_regs = sync_mask;
    absl::StatusOr<bool> exited = vcpu_->Run();
    if (!exited.ok()) {
      Finish(VcpuStop{vcpu_->index(), StopRequest{StopReason::kKvmError, 0,
                                                  std::string(exited.status().message())}});
      return;
    }
    if (!*exited) continue;  // kicked: re-check what is wanted
    ExitAction action = DispatchExit(*run, vcpu_->index(), *bus_);
    if (action.kind == ExitAction::Kind::kTrapCandidate) {
      std::optional<ExitAction> claimed;
      if (traps_ != nullptr) claimed = traps_->OnTrapExit(*vcpu_);
      action = claimed ? std::move(*claimed) : ExitAction::Stop(std::move(action.stop));
    }
    if (action.kind == ExitAction::Kind::kContinue) continue;
    VcpuStop stop{vcpu_->index(), std::move(action.stop)};
    if (absl::StatusOr<kvm_regs> regs = vcpu_->GetRegs(); regs.ok()) {
      stop.rip = regs->rip;
      stop.rip_known = true;
    }
    Finish(std::move(stop));
    return;
  }
}

}  // namespace tlbscope
