#pragma once

// The Linux probes of one run: introspect's LinuxTracker driven by the trap
// engine's probe int3s. Entry breakpoints are placed once before the guest
// runs (the returns of the exits to user mode, when the kernel's knowledge
// says how to tell, at the first trapped instruction after the kernel's
// boot-time text patching: vmm/linux/boot_placement.h); a hit reads the vCPU's registers, hands
// them with a GuestReader over the guest page walk to the tracker, places or removes the return
// breakpoints the tracker now waits for on that vCPU, and gets past the instruction as the entry
// plan says (emulated, or stepped by the engine). Every event the tracker makes goes to `emit` on
// the hitting vCPU's thread: into that vCPU's own order, like its trapped instructions.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "introspect/knowledge.h"
#include "introspect/probes/tracker.h"
#include "vmm/kvm/guest_memory.h"
#include "vmm/linux/boot_placement.h"
#include "vmm/linux/probe_plan.h"
#include "vmm/trap/guest_walk.h"
#include "vmm/trap/probe_client.h"
#include "vmm/trap/probe_points.h"

namespace tlbscope {

struct LinuxProbeSources {
  std::string system_map;  // --system-map FILE ("" for none)
  std::string kernel_btf;  // --kernel-btf FILE: detached BTF ("" for none)
};

class LinuxProbes : public ProbeClient {
 public:
  using EmitFn = introspect::ProbeEnv::EmitFn;

  // The knowledge (complete) and the vmlinux the plan is made from; places
  // every entry breakpoint through `points` (a refused one goes to
  // plan().problems). `emit` may be set later, before the guest runs.
  LinuxProbes(std::unique_ptr<introspect::KernelKnowledge> knowledge,
              std::span<const uint8_t> vmlinux, GuestMemory* mem, ProbePoints* points,
              int num_vcpus);
  void SetEmit(EmitFn emit) { emit_ = std::move(emit); }

  Next OnProbeHit(int vcpu, VcpuStateView& state) override;
  // A planned entry, return, load or sync_core site (placed or waiting for
  // the boot's patching to end); not the return int3s placed on the way.
  bool Owns(uint64_t gva) const override;
  // From the trap engine's event callback, before the trapped CR3 write is
  // appended: the tracker's context_switch goes right before it.
  void BeforeCr3Write(int vcpu, uint64_t old_cr3, uint64_t new_cr3);
  // At every trapped instruction and probe hit, on its vCPU's thread:
  // while the return int3s wait for the kernel's boot-time patching, checks
  // whether it is done and if so places them, each re-planned from guest
  // memory, and runs the after-boot hook.
  void OnTrap();
  // Run once (on a vCPU's thread) when the gate is passed, after the
  // returns are in: the trap engine's deferred sites. Before the guest
  // runs; never called for a kernel without a gate (!waits_for_boot()).
  void SetAfterBoot(std::function<void()> fn) { after_boot_ = std::move(fn); }
  // Whether the return int3s wait for that (else they went in before the
  // run), and whether they are in.
  bool waits_for_boot() const { return plan_.gate.has_value(); }
  bool placed() const { return placed_.load(std::memory_order_acquire); }
  // Probes refused when they were placed after boot, one line each.
  std::vector<std::string> late_problems() const;
  // Int3s placed before the run that the kernel's boot-time patching wrote
  // over and that went back in at the gate, one line each.
  std::vector<std::string> retaken() const;

  const ProbePlan& plan() const { return plan_; }
  // The kinds of events beyond the base set these probes supply
  // (introspect/probes/supplies.h): for the trace header.
  std::vector<std::string> SuppliedEvents() const;
  const introspect::KernelKnowledge& knowledge() const { return *k_; }
  const introspect::LinuxTracker& tracker() const { return *tracker_; }
  struct Counts {
    uint64_t hits = 0;           // int3s of ours handed to the tracker
    uint64_t unmatched = 0;      // ... that were neither its entry nor a waited-for return
    uint64_t events = 0;         // events the tracker made
    uint64_t read_failures = 0;  // guest reads that failed
    uint64_t emulated = 0, stepped = 0;
    uint64_t return_place_failures = 0;
    uint64_t loads = 0, load_failures = 0;  // planned loads read / unreadable register
    uint64_t sync_cores = 0;                // sync_core sites reached
  };
  Counts counts() const;

 private:
  void PlaceBeforeBoot();
  void PlaceAfterBoot();
  void RetakeOverwritten();
  void IndexPlan();
  void SyncReturns(const PagingMode& mode);
  Next OnLoadHit(int vcpu, const PlannedLoad& load, const kvm_regs& r);
  std::unique_ptr<introspect::KernelKnowledge> k_;
  GuestMemory* mem_;
  ProbePoints* points_;
  EmitFn emit_;
  std::function<void()> after_boot_;
  std::unique_ptr<introspect::LinuxTracker> tracker_;
  ProbePlan plan_;
  std::atomic<bool> placed_{false};
  mutable std::mutex place_mu_;
  std::vector<std::string> late_problems_;                   // under place_mu_
  std::vector<std::string> retaken_;                         // under place_mu_
  std::map<uint64_t, const PlannedProbe*> by_address_;       // int3 address -> its entry
  std::map<uint64_t, const PlannedLoad*> loads_by_address_;  // by site.after()
  std::map<uint64_t, const PlannedSyncCore*> sync_by_address_;
  struct PerVcpu {
    uint64_t cr4 = 0;  // at its last hit (LA57)
  };
  std::vector<PerVcpu> per_vcpu_;  // each touched by its own vCPU's thread only
  // Return int3s placed (one per probed call waiting, so an address may be
  // there twice), sorted. For every vCPU: a task may return on another.
  std::mutex returns_mu_;
  std::vector<uint64_t> returns_;
  std::atomic<uint64_t> hits_{0}, unmatched_{0}, events_{0}, emulated_{0}, stepped_{0},
      return_place_failures_{0}, loads_{0}, load_failures_{0}, sync_cores_{0};
};

// Loads the kernel's knowledge and builds the probes. nullptr, with `why`
// set to one line naming what is missing, when the knowledge is incomplete
// or no entry could get a breakpoint; the run goes on without them.
std::unique_ptr<LinuxProbes> CreateLinuxProbes(const LinuxProbeSources& sources,
                                               std::span<const uint8_t> vmlinux, GuestMemory* mem,
                                               ProbePoints* points, int num_vcpus,
                                               std::string* why);

}  // namespace tlbscope
