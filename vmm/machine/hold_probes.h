#pragma once
// --hold in a run: the hold and release sites of every spec as probe int3s
// (the trap engine's ProbePoints), their hits turned into the Coordinator's
// AtHoldSite / AtReleaseSite on the vCPU's own thread. A `%return` site is
// an int3 at the function's entry that, when the site's vCPU hits it, puts
// one more at the return address it finds at [rsp]; that one counts when
// the same vCPU reaches it with the stack pointer the return leaves.
//
// It sits in front of the Linux probes (`next`): a hit is handed to them
// first, so they read the state as the vCPU arrived, and then held.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmm/boot/elf_file.h"
#include "vmm/hold/coordinator.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/probe_client.h"
#include "vmm/trap/probe_points.h"
#include "vmm/vcpu/trap_exit_handler.h"

namespace tlbscope {

class HoldProbes : public ProbeClient {
 public:
  // %return sites pending per watch (a vCPU in the function, nested): the
  // guest decides how deep it goes and whether it ever returns (a task that
  // sleeps there and wakes elsewhere), so the oldest is dropped, its int3
  // removed, beyond this.
  static constexpr size_t kMaxPendingReturns = 16;

  // A symbol's address, or nullopt.
  using LookupFn = std::function<std::optional<uint64_t>(const std::string&)>;

  // Resolves every site (`lookup`; kernel addresses to physical through the
  // image's `loads`) and places the int3s. Errors name the --hold and the
  // site: an unknown symbol, an address in no loaded segment, a byte that
  // cannot take an int3.
  static absl::StatusOr<std::unique_ptr<HoldProbes>> Create(std::vector<hold::Spec> specs,
                                                            const LookupFn& lookup,
                                                            const std::vector<ElfSegment>& loads,
                                                            GuestMemory* mem, ProbePoints* points,
                                                            ProbeClient* next);

  // For the run: `control` marks the held vCPU so that steps of other vCPUs
  // need not wait for it; `where` says where a vCPU is (timeout lines).
  void Attach(VmControl* control, hold::Coordinator::WhereFn where);
  // The VM is stopping: no vCPU stays held.
  void Stop(const std::string& why) { coordinator_->Stop(why); }

  Next OnProbeHit(int vcpu, VcpuStateView& state) override;

  const hold::Coordinator& coordinator() const { return *coordinator_; }
  std::vector<std::string> Summaries() const;

 private:
  struct Watch {
    size_t spec;
    bool is_hold;  // else the release site
    uint32_t vcpu;
    uint64_t address;  // the site, or the function's entry for %return
    bool at_return;
  };
  struct Frame {
    const Watch* watch;
    uint64_t return_address;
    uint64_t rsp_after;
    bool shared;  // another client had an int3 there too
  };
  HoldProbes(std::vector<hold::Spec> specs, GuestMemory* mem, ProbePoints* points,
             ProbeClient* next);
  void Reached(const Watch& w, uint64_t rip);
  void EnterFunction(const Watch& w, uint64_t rsp, const PagingMode& mode);
  std::optional<Frame> TakeFrame(int vcpu, uint64_t rip, uint64_t rsp);

  std::unique_ptr<hold::Coordinator> coordinator_;
  GuestMemory* mem_;
  ProbePoints* points_;
  ProbeClient* next_;
  VmControl* control_ = nullptr;
  std::vector<Watch> watches_;
  std::vector<uint64_t> shared_;  // addresses the next client had placed too
  std::mutex mu_;
  std::vector<Frame> frames_;  // pending %return sites, all vCPUs
};

}  // namespace tlbscope
