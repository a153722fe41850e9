#pragma once

#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "vmm/kvm/vcpu.h"
#include "vmm/trace/pipeline.h"
#include "vmm/vcpu/io_bus.h"
#include "vmm/vcpu/stop_reason.h"
#include "vmm/vcpu/trap_exit_handler.h"

namespace tlbscope {

// The vCPU thread as an explicit state machine (after Firecracker/crosvm):
//
//   kCreated --Start--> kRunning <--Pause/Resume--> kPaused
//                          |  ^
//                 SetHeld  v  | SetHeld(false)
//                         kHeld   (--hold: the thread waits in a trap
//                          |       handler, outside the guest)
//                          +------ Stop / exit --------+--> kStopped
//
// Pause and Stop are requests: they set kvm_run.immediate_exit and kick the
// thread with a signal so KVM_RUN returns at once wherever the guest is.
// The thread reports the one reason it stopped through `on_stop`.
enum class VcpuState { kCreated, kRunning, kPaused, kHeld, kStopped };
const char* VcpuStateName(VcpuState s);

struct VcpuStop {
  int vcpu;
  StopRequest request;
  uint64_t rip = 0;
  bool rip_known = false;
  std::string Describe() const;  // "vcpu 1: <message> at rip 0x..."
};

class VcpuRunner {
 public:
  using StopCallback = std::function<void(const VcpuStop&)>;

  // `traps` may be null (no trapping): debug exits and emulation failures
  // then stop the VM.
  VcpuRunner(Vcpu* vcpu, IoBus* bus, StopCallback on_stop, TrapExitHandler* traps = nullptr,
             TracePipeline* trace = nullptr);
  ~VcpuRunner();
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;

  // The signal that kicks a vCPU thread out of KVM_RUN.
  static constexpr int kKickSignal = SIGUSR1;
  // Installs the no-op kick signal handler; call once before any Start().
  static void InstallKickHandler();

  void Start();
  // Pauses nest: each Pause needs its Resume (a vCPU stepping over a lifted
  // int3 and a timed-out --hold reading another vCPU's RIP may both pause
  // it). Pause returns once the thread is parked, held or stopped.
  void Pause();
  void Resume();
  void Stop(StopRequest why);  // returns at once; Join() waits
  // On this vCPU's own thread, from a trap handler that waits outside the
  // guest (--hold): while held, a Pause() of this vCPU returns at once (it
  // runs no guest code); after SetHeld(false) the loop honours the pause
  // before it enters the guest again.
  void SetHeld(bool held);
  void Join();

  VcpuState state() const;
  int index() const { return vcpu_->index(); }
  // Set once kStopped.
  const std::optional<VcpuStop>& stop() const { return stop_; }

 private:
  enum class Want { kRun, kPause, kStop };
  void Loop();
  void Kick();
  void Finish(VcpuStop stop);

  Vcpu* vcpu_;
  IoBus* bus_;
  StopCallback on_stop_;
  TrapExitHandler* traps_;
  TracePipeline* trace_;  // VcpuState events, from this thread
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  VcpuState state_ = VcpuState::kCreated;
  Want want_ = Want::kRun;
  int pauses_ = 0;  // Pause calls not yet matched by Resume
  std::optional<StopRequest> stop_request_;
  std::optional<VcpuStop> stop_;
};

}  // namespace tlbscope
