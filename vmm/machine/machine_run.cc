// Running the vCPU threads until the VM stops, and why it stopped.
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_format.h"
#include "common/log.h"
#include "vmm/machine/machine_parts.h"

namespace tlbscope {
namespace {

std::atomic<int> g_interrupt_signal{0};
void OnInterrupt(int sig) { g_interrupt_signal.store(sig); }

// Parks and resumes the other vCPUs for a software-breakpoint step.
class RunnerControl : public VmControl {
 public:
  explicit RunnerControl(std::vector<std::unique_ptr<VcpuRunner>>* runners) : runners_(runners) {}
  void PauseOthers(int self) override {
    for (auto& r : *runners_) {
      if (r->index() != self) r->Pause();
    }
  }
  void ResumeOthers(int self) override {
    for (auto& r : *runners_) {
      if (r->index() != self) r->Resume();
    }
  }
  void SetHeld(int self, bool held) override { (*runners_)[self]->SetHeld(held); }

 private:
  std::vector<std::unique_ptr<VcpuRunner>>* runners_;
};

// Collects the first stop that ends the VM; later ones (the others being
// stopped because of it) only fill in per-vCPU reasons.
class StopLatch {
 public:
  void Report(const VcpuStop& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_ && s.request.reason != StopReason::kStoppedByVmm) first_ = s;
    cv_.notify_all();
  }
  // Waits until a vCPU stops the VM or `deadline`; false on timeout.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!first_) {
      if (g_interrupt_signal.load() != 0) return false;
      auto step =
          std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
      cv_.wait_until(lock, step);
      if (!first_ && std::chrono::steady_clock::now() >= deadline) return false;
    }
    return true;
  }
  std::optional<VcpuStop> first() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<VcpuStop> first_;
};

// SIGINT and SIGTERM stop the run (the trace is finished, not cut) while
// this lives.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupt_signal.store(0);
    old_int_ = std::signal(SIGINT, OnInterrupt);
    old_term_ = std::signal(SIGTERM, OnInterrupt);
  }
  ~InterruptScope() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

VcpuStop FirstStop(const MachineConfig& config, bool stopped_by_guest, StopLatch& latch) {
  if (stopped_by_guest) return *latch.first();
  if (int sig = g_interrupt_signal.load(); sig != 0) {
    return VcpuStop{
        -1, StopRequest{StopReason::kInterrupted, 0, absl::StrFormat("stopped by signal %d", sig)}};
  }
  return VcpuStop{-1, StopRequest{StopReason::kTimeout, 0,
                                  absl::StrFormat("guest did not finish within --timeout %g s",
                                                  config.timeout_s)}};
}

std::chrono::steady_clock::time_point Deadline(const MachineConfig& config,
                                               std::chrono::steady_clock::time_point start) {
  if (config.timeout_s <= 0) return std::chrono::steady_clock::time_point::max();
  return start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(config.timeout_s));
}

// A held vCPU counts as parked; a timeout line says where the releasing
// vCPU is (parked for the moment it takes to read its RIP).
void AttachHolds(HoldHandle& holds, RunnerControl& control,
                 std::vector<std::unique_ptr<VcpuRunner>>& runners, std::vector<Vcpu>& vcpus) {
  const introspect::KernelSymbols* symbols = &holds.symbols;
  holds.probes->Attach(&control, [&runners, &vcpus, symbols](uint32_t v) -> std::string {
    if (v >= runners.size()) return "not a vCPU";
    runners[v]->Pause();
    absl::StatusOr<kvm_regs> regs = vcpus[v].GetRegs();
    runners[v]->Resume();
    if (!regs.ok()) return absl::StrFormat("unknown (%s)", regs.status().message());
    return WhereIs(*symbols, regs->rip);
  });
}

}  // namespace

void RunVcpus(const MachineConfig& config, std::vector<Vcpu>& vcpus, IoBus& bus,
              TrapExitHandler* handler, TrapEngine* traps, TracePipeline& trace,
              TraceServiceImpl* service, HoldHandle* holds, RunOutcome& out) {
  StopLatch latch;
  VcpuRunner::InstallKickHandler();
  InterruptScope interrupts;
  if (config.wait_for_subscriber) {
    Log("waiting for the first subscriber");
    service->WaitForSubscriber([] { return g_interrupt_signal.load() != 0; });
  }
  std::vector<std::unique_ptr<VcpuRunner>> runners;
  for (Vcpu& v : vcpus) {
    runners.push_back(std::make_unique<VcpuRunner>(
        &v, &bus, [&latch](const VcpuStop& s) { latch.Report(s); }, handler, &trace));
  }
  RunnerControl control(&runners);
  if (traps) traps->SetVmControl(&control);
  if (holds) AttachHolds(*holds, control, runners, vcpus);
  auto start = std::chrono::steady_clock::now();
  for (auto& r : runners) r->Start();
  bool stopped_by_guest = latch.WaitUntil(Deadline(config, start));
  out.duration = std::chrono::steady_clock::now() - start;
  out.first_stop = FirstStop(config, stopped_by_guest, latch);
  if (holds) holds->probes->Stop(out.first_stop.Describe());
  for (auto& r : runners) {
    r->Stop(StopRequest{
        StopReason::kStoppedByVmm, 0,
        absl::StrFormat("stopped because %s", StopReasonName(out.first_stop.request.reason))});
  }
  for (auto& r : runners) r->Join();
  if (traps) traps->SetVmControl(nullptr);
  // Where each vCPU was when it stopped: what a timeout report needs.
  for (size_t i = 0; i < runners.size(); ++i) {
    VcpuStop s = runners[i]->stop().value_or(VcpuStop{static_cast<int>(i), StopRequest{}});
    if (!s.rip_known) {
      if (absl::StatusOr<kvm_regs> regs = vcpus[i].GetRegs(); regs.ok()) {
        s.rip = regs->rip;
        s.rip_known = true;
      }
    }
    out.vcpu_stops.push_back(std::move(s));
  }
}

}  // namespace tlbscope
