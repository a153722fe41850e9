#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/trap/host_caps.h"
#include "vmm/trap/probe_client.h"
#include "vmm/trap/probe_points.h"
#include "vmm/trap/strategy.h"
#include "vmm/trap/trap_event.h"
#include "vmm/trap/trap_handler.h"
#include "vmm/trap/vcpu_state.h"
#include "vmm/vcpu/exit_dispatch.h"
#include "vmm/vcpu/trap_exit_handler.h"

namespace tlbscope {

enum class BreakpointPolicy {
  kAuto,          // debug registers first, int3 for the rest where the host can
  kHardwareOnly,  // sites beyond the debug registers stay uncovered
  kSoftwareOnly,  // int3 on every site
};

// Traps every TLB instruction site of one kernel on every vCPU with the
// host's strategies: hardware breakpoints (one debug register per site, the
// same on every vCPU), int3 patched into guest memory for further sites, and
// emulation-failure exits for an instruction the CPU model lacks. Events are
// kept per vCPU; only that vCPU's thread touches its part.
class TrapEngine : public TrapExitHandler {
 public:
  static constexpr uint8_t kInt3 = 0xcc;

  TrapEngine(const HostCaps& caps, std::vector<TlbSite> sites, GuestMemory* mem, int num_vcpus,
             BreakpointPolicy policy = BreakpointPolicy::kAuto);

  // Writes the int3s; once, after the kernel is loaded, before any vCPU runs.
  // A site whose bytes in memory are not the scanned instruction is dropped
  // to uncovered().
  void PatchSoftwareBreakpoints();
  // Sites whose instruction the kernel writes into its own text at boot
  // (an alternative's replacement: vmm/linux/alt_sites.h): no int3 until
  // PlaceDeferredSites(). Once, after PatchSoftwareBreakpoints(), before
  // Arm(); on a host without software breakpoints they are uncovered().
  // patched() leaves them out (deferred() says which went in).
  void AddDeferredSites(std::vector<TlbSite> sites);
  // Once the kernel's boot-time patching is done, from any vCPU's thread:
  // an int3 on each deferred site whose bytes in guest memory are now its
  // instruction; the others stay as the kernel left them. The first call
  // does it; later ones return at once.
  void PlaceDeferredSites();
  // Once the kernel's boot-time patching is done (alternatives, paravirt
  // calls, returns: it writes its text with memcpy, over any int3 there),
  // from any vCPU's thread: every site's int3 placed at the start is
  // checked, and one the kernel wrote over is reported; that site is the
  // kernel's code from then on (nothing is put back: it is no longer the
  // instruction that was scanned). Then PlaceDeferredSites(). The first
  // call does it; later ones return at once.
  void AfterKernelBoot();
  struct DeferredReport {
    size_t waiting = 0;               // sites added
    bool done = false;                // PlaceDeferredSites() ran
    std::vector<TlbSite> placed;      // int3 in, the kernel's code being the instruction
    std::vector<std::string> absent;  // "ADDR: BYTES" where the kernel left other code
    bool checked = false;             // AfterKernelBoot() checked the start's int3s
    size_t checked_sites = 0;
    // "ADDR: BYTES" for each start site whose int3 or instruction the
    // kernel's boot patching replaced.
    std::vector<std::string> written_over;
  };
  // After the vCPU threads have stopped.
  DeferredReport deferred() const;
  // Single-steps each vCPU's first `instructions` kernel instructions (the
  // window ends early before a return to user mode), decoding every one,
  // to check that the breakpoints trapped every TLB instruction executed.
  // Call before Arm().
  void SetStepWindow(uint64_t instructions);

  struct StepWindowReport {
    uint64_t stepped = 0;
    TlbCounts seen;     // TLB instructions the window saw execute
    TlbCounts trapped;  // events recorded while the window was open
    std::string ended;  // why it closed ("" while open)
  };
  // After the vCPU threads have stopped; nullopt without a window.
  std::optional<StepWindowReport> step_window(int vcpu) const;

  // Called on the vCPU's thread for every event as it is recorded.
  void SetEventCallback(std::function<void(const TrapEvent&)> cb) { on_event_ = std::move(cb); }

  // Every CR3 write's new root is walked for `vaddr` (a kernel address every
  // kernel page table maps, e.g. Linux's startup_64) and the result recorded.
  void SetRootProbe(uint64_t vaddr) { root_probe_ = vaddr; }

  // The guest-kernel probes' int3s (vmm/linux): placed through
  // probe_points() (before Arm() for those present from the start), each
  // hit handed to `client`. Needs a host where int3 traps
  // (plan().software_breakpoints).
  void SetProbeClient(ProbeClient* client) { probe_client_ = client; }
  ProbePoints& probe_points() { return probe_points_; }

  // Needed with more than one vCPU and any software breakpoint.
  void SetVmControl(VmControl* control) { control_ = control; }
  // Installs the breakpoints on one vCPU; call before it first runs.
  absl::Status Arm(Vcpu& vcpu);

  std::optional<ExitAction> OnTrapExit(Vcpu& vcpu) override;
  uint64_t sync_regs_mask() const override;

  const TrapPlan& plan() const { return plan_; }
  const HostCaps& caps() const { return caps_; }
  const std::vector<const TlbSite*>& armed() const { return armed_; }
  std::vector<const TlbSite*> patched() const;
  const std::vector<const TlbSite*>& uncovered() const { return uncovered_; }
  // What was trapped on one vCPU: every site, and without boot-time sites
  // (as a guest counts its own). After the vCPU threads have stopped, or
  // from that vCPU's thread.
  const TlbCounts& trapped(int vcpu) const { return per_vcpu_[vcpu].trapped; }
  const TlbCounts& trapped_after_boot(int vcpu) const { return per_vcpu_[vcpu].trapped_after_boot; }

 private:
  struct SwSite {
    const TlbSite* site;
    uint64_t paddr;
    uint8_t original;
  };
  struct PerVcpu {
    int stepping_slot = -1;                  // hardware breakpoint disarmed for a step
    int stepping_sw = -1;                    // software breakpoint lifted for a step
    std::optional<uint64_t> stepping_probe;  // probe int3 (its address) lifted for a step
    // A probe hit already handed to the client whose step had to wait for
    // another vCPU's: its retry steps without a second report.
    std::optional<std::pair<uint64_t, uint64_t>> probe_reported;  // (rip, rsp)
    uint64_t step_end = 0;             // RIP after the stepped instruction
    std::optional<TrapEvent> pending;  // recorded once the step completes
    uint64_t recorded = 0;
    TlbCounts trapped, trapped_after_boot;
    std::optional<int64_t> tsc_offset;  // read at the first event; nullopt if unknown
    bool tsc_offset_read = false;
    // Step window.
    uint64_t window_left = 0;
    std::optional<TlbInsn> window_next;  // the TLB instruction about to run
    bool window_fix_pushf = false;       // clear the TF the last pushf stored
    StepWindowReport window;
  };
  kvm_guest_debug DebugState(const PerVcpu& pv, int disarmed_slot, bool single_step) const;
  // One instruction of the window has run: count it, look at the next.
  void WindowAdvance(Vcpu& vcpu, VcpuStateView& state);
  void EndWindow(PerVcpu& pv, std::string why);
  std::optional<ExitAction> OnWindowStep(Vcpu& vcpu);
  // Single-step off (breakpoints stay), and KVM's stepping TF out of RFLAGS.
  absl::Status StopStepping(Vcpu& vcpu, VcpuStateView& state);
  int FindSoftwareSite(uint64_t rip) const;
  bool SiteLive(size_t sw_index) const;
  // deferred_sites.cc, under deferred_mu_: the start's int3s after boot.
  void CheckStartSites();
  TrapOutcome Decode(const TlbSite& site, VcpuStateView& state, bool emulate_cr3);
  std::optional<ExitAction> Finish(Vcpu& vcpu, VcpuStateView& state, TrapOutcome out,
                                   const TlbSite& site, TrapStrategy strategy);
  std::optional<ExitAction> OnHardwareBreakpoint(Vcpu& vcpu, int slot);
  // `at`: the site's address or its physical alias, where the vCPU is.
  std::optional<ExitAction> OnSoftwareBreakpoint(Vcpu& vcpu, int index, uint64_t at);
  std::optional<ExitAction> OnStepDone(Vcpu& vcpu);
  // probe_breakpoint.cc: an int3 of probe_points_ (or one just removed).
  std::optional<ExitAction> OnProbeInt3(Vcpu& vcpu, uint64_t at);
  std::optional<ExitAction> OnProbeStepDone(Vcpu& vcpu);
  bool HasSoftwareBreakpoints() const;
  std::optional<ExitAction> OnEmulationFailure(Vcpu& vcpu);
  std::optional<ExitAction> InjectGp(Vcpu& vcpu);
  void Record(Vcpu& vcpu, TrapEvent e, const TlbSite& site, TrapStrategy strategy);
  ExitAction Stop(std::string message) const;

  HostCaps caps_;
  TrapPlan plan_;
  std::vector<TlbSite> sites_;
  GuestMemory* mem_;
  VmControl* control_ = nullptr;
  std::function<void(const TrapEvent&)> on_event_;
  std::vector<const TlbSite*> armed_;  // index = debug register
  std::vector<SwSite> sw_;
  // Deferred sites: sw_[first_deferred_ + i] is deferred_[i], matched only
  // once deferred_live_[i] is set (before its int3 is written).
  std::vector<TlbSite> deferred_;
  size_t first_deferred_ = SIZE_MAX;
  std::unique_ptr<std::atomic<bool>[]> deferred_live_;
  std::atomic<bool> deferred_done_{false};
  std::atomic<bool> checked_done_{false};  // AfterKernelBoot() checked the start's sites
  mutable std::mutex deferred_mu_;
  DeferredReport deferred_report_;  // under deferred_mu_
  std::vector<const TlbSite*> uncovered_;
  std::vector<PerVcpu> per_vcpu_;
  std::atomic<int> stepper_{-1};  // the vCPU stepping over a lifted int3
  uint64_t window_ = 0;
  uint64_t root_probe_ = 0;
  ProbePoints probe_points_;
  ProbeClient* probe_client_ = nullptr;
};

}  // namespace tlbscope
