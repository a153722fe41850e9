#include "vmm/linux/linux_probes.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_format.h"
#include "common/log.h"
#include "introspect/knowledge_cache.h"
#include "introspect/probes/supplies.h"
#include "vmm/linux/page_walk_reader.h"
#include "vmm/linux/skip_emulation.h"

namespace tlbscope {

LinuxProbes::LinuxProbes(std::unique_ptr<introspect::KernelKnowledge> knowledge,
                         std::span<const uint8_t> vmlinux, GuestMemory* mem, ProbePoints* points,
                         int num_vcpus)
    : k_(std::move(knowledge)), mem_(mem), points_(points), per_vcpu_(num_vcpus) {
  tracker_ =
      std::make_unique<introspect::LinuxTracker>(*k_, num_vcpus, [this](uint32_t cpu, v1::Event e) {
        events_.fetch_add(1, std::memory_order_relaxed);
        if (emit_) emit_(cpu, std::move(e));
      });
  for (const std::string& f : tracker_->skipped()) {
    plan_.problems.push_back(absl::StrFormat("%s: no symbol in this kernel", f));
  }
  std::vector<std::string> skipped = std::move(plan_.problems);
  plan_ = PlanProbes(*tracker_, *k_, vmlinux);
  plan_.problems.insert(plan_.problems.begin(), skipped.begin(), skipped.end());
  PlaceBeforeBoot();
  IndexPlan();
  if (!plan_.gate) placed_.store(true, std::memory_order_release);
}

// Every int3 now but the returns that wait for the boot's patching; a
// refused one leaves the plan with a line saying why.
void LinuxProbes::PlaceBeforeBoot() {
  auto place = [this](uint64_t at, uint64_t paddr, const std::string& what) {
    absl::Status s = points_->Place(at, paddr);
    if (!s.ok()) plan_.problems.push_back(absl::StrFormat("%s: %s", what, s.message()));
    return s.ok();
  };
  std::erase_if(plan_.probes, [&](const PlannedProbe& p) {
    if (p.at_return && plan_.gate) return false;
    return !place(p.plan.address, p.paddr, p.function);
  });
  std::erase_if(plan_.loads, [&](const PlannedLoad& l) {
    return !place(l.site.after(), l.paddr, l.Describe());
  });
  std::erase_if(plan_.sync_cores, [&](const PlannedSyncCore& c) {
    return !place(c.site.address, c.paddr, c.Describe());
  });
}

// Under place_mu_: the int3s placed before the run that the kernel's
// boot-time patching wrote over get theirs back, an entry planned again
// from the code now there (no vCPU can be on it: the int3 was gone).
void LinuxProbes::RetakeOverwritten() {
  auto retake = [this](uint64_t at, const std::string& what) {
    absl::StatusOr<bool> r = points_->Retake(at);
    if (!r.ok()) late_problems_.push_back(absl::StrFormat("%s: %s", what, r.status().message()));
    if (r.ok() && *r) retaken_.push_back(what);
  };
  for (PlannedProbe& p : plan_.probes) {
    if (p.at_return || !points_->Overwritten(p.plan.address)) continue;
    if (absl::Status s = ReplanEntryFromGuest(*mem_, p); !s.ok()) {
      late_problems_.push_back(absl::StrFormat("%s: %s", p.function, s.message()));
      continue;
    }
    retake(p.plan.address, absl::StrFormat("%s (now %s)", p.function, p.plan.Describe()));
  }
  // The instruction under these is stepped, so exact; what they read is
  // the code around them, which the kernel may have changed too.
  for (const PlannedLoad& l : plan_.loads) {
    retake(l.site.after(), l.Describe() + " (the load unchecked)");
  }
  for (const PlannedSyncCore& c : plan_.sync_cores) {
    retake(c.site.address, c.Describe() + " (the instruction unchecked)");
  }
}

// Under place_mu_: the returns. The plan stays whole (other vCPUs look
// int3s up in it); a probe refused now only has no int3.
void LinuxProbes::PlaceAfterBoot() {
  RetakeOverwritten();
  for (PlannedProbe& p : plan_.probes) {
    if (!p.at_return) continue;
    absl::Status s = ReplanReturnFromGuest(*mem_, p);
    if (s.ok()) s = points_->Place(p.plan.address, p.paddr);
    if (!s.ok()) late_problems_.push_back(absl::StrFormat("%s: %s", p.function, s.message()));
  }
}

void LinuxProbes::IndexPlan() {
  for (const PlannedProbe& p : plan_.probes) by_address_[p.plan.address] = &p;
  for (const PlannedLoad& l : plan_.loads) loads_by_address_[l.site.after()] = &l;
  for (const PlannedSyncCore& c : plan_.sync_cores) sync_by_address_[c.site.address] = &c;
}

void LinuxProbes::OnTrap() {
  if (!plan_.gate || placed_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(place_mu_);
  if (placed_.load(std::memory_order_relaxed) || !PastBootGate(*mem_, *plan_.gate)) return;
  PlaceAfterBoot();
  if (after_boot_) after_boot_();
  placed_.store(true, std::memory_order_release);
}

bool LinuxProbes::Owns(uint64_t gva) const {
  return by_address_.contains(gva) || loads_by_address_.contains(gva) ||
         sync_by_address_.contains(gva);
}

std::vector<std::string> LinuxProbes::late_problems() const {
  std::lock_guard<std::mutex> lock(place_mu_);
  return late_problems_;
}

std::vector<std::string> LinuxProbes::retaken() const {
  std::lock_guard<std::mutex> lock(place_mu_);
  return retaken_;
}

std::vector<std::string> LinuxProbes::SuppliedEvents() const {
  introspect::ProbeCoverage c;
  for (const introspect::LinuxTracker::Entry& e : tracker_->entries())
    c.found.push_back(e.function);
  for (const PlannedProbe& p : plan_.probes) c.placed.push_back(p.function);
  c.sync_core_sites = static_cast<int>(plan_.sync_cores.size());
  c.no_sync_core_proven = plan_.no_sync_core_proven;
  return introspect::SuppliedEvents(c, k_->layout);
}

// Right after a planned load: its destination register holds what the
// kernel loaded. The instruction under the int3 is stepped.
ProbeClient::Next LinuxProbes::OnLoadHit(int vcpu, const PlannedLoad& load, const kvm_regs& r) {
  stepped_.fetch_add(1, std::memory_order_relaxed);
  std::optional<uint32_t> value = LoadedValue(load.site, r);
  if (!value) {
    load_failures_.fetch_add(1, std::memory_order_relaxed);
    return Next::kStep;
  }
  loads_.fetch_add(1, std::memory_order_relaxed);
  if (!tracker_->OnLoad(static_cast<uint32_t>(vcpu), load.function_address, r.rsp, *value)) {
    unmatched_.fetch_add(1, std::memory_order_relaxed);
  }
  return Next::kStep;
}

ProbeClient::Next LinuxProbes::OnProbeHit(int vcpu, VcpuStateView& state) {
  kvm_regs* r = nullptr;
  kvm_sregs* s = nullptr;
  if (!state.Load(&r, &s).ok() || vcpu < 0 || vcpu >= static_cast<int>(per_vcpu_.size())) {
    stepped_.fetch_add(1, std::memory_order_relaxed);
    return Next::kStep;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  OnTrap();
  per_vcpu_[vcpu].cr4 = s->cr4;
  PagingMode mode{s->cr0, s->cr3, s->cr4, s->efer};
  if (auto load = loads_by_address_.find(r->rip); load != loads_by_address_.end()) {
    return OnLoadHit(vcpu, *load->second, *r);
  }
  PageWalkReader reader(*mem_, mode);
  if (sync_by_address_.contains(r->rip)) {
    sync_cores_.fetch_add(1, std::memory_order_relaxed);
    stepped_.fetch_add(1, std::memory_order_relaxed);
    tracker_->OnSyncCore(static_cast<uint32_t>(vcpu), reader);
    return Next::kStep;
  }
  auto it = by_address_.find(r->rip);
  const PlannedProbe* entry = it == by_address_.end() ? nullptr : it->second;
  introspect::ProbeRegs regs;
  // The tracker knows an entry by its function's address; the int3 may sit
  // past the ftrace site, where RSP and the arguments are still the entry's.
  regs.rip = entry != nullptr ? entry->function_address : r->rip;
  regs.rsp = r->rsp;
  regs.rax = r->rax;
  const uint64_t args[6] = {r->rdi, r->rsi, r->rdx, r->rcx, r->r8, r->r9};
  std::copy(std::begin(args), std::end(args), regs.arg);
  regs.cr3 = s->cr3;
  regs.gs_base = s->gs.base;
  if (entry != nullptr && entry->at_return) {
    // Pairs with OnTrap's release: the return's plan, made again then.
    if (!placed()) return Next::kStep;
    regs.rip = r->rip;
    if (!tracker_->OnExitSite(static_cast<uint32_t>(vcpu), entry->function_address, regs, reader)) {
      unmatched_.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (!tracker_->OnBreakpoint(static_cast<uint32_t>(vcpu), regs, reader)) {
    unmatched_.fetch_add(1, std::memory_order_relaxed);
  }
  SyncReturns(mode);
  if (entry != nullptr && EmulateSkip(entry->plan, *r, *mem_, mode).ok()) {
    state.MarkRegsDirty();
    emulated_.fetch_add(1, std::memory_order_relaxed);
    return Next::kResume;
  }
  stepped_.fetch_add(1, std::memory_order_relaxed);
  return Next::kStep;
}

// The kernel's text is mapped alike in every address space: `mode` (this
// vCPU's) translates any return address.
void LinuxProbes::SyncReturns(const PagingMode& mode) {
  std::lock_guard<std::mutex> lock(returns_mu_);
  std::vector<uint64_t> want = tracker_->ReturnAddresses();
  std::sort(want.begin(), want.end());
  std::vector<uint64_t>& have = returns_;
  std::vector<uint64_t> gone, added;
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(gone));
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(),
                      std::back_inserter(added));
  for (uint64_t a : gone) {
    points_->Remove(a);
    have.erase(std::find(have.begin(), have.end(), a));
  }
  for (uint64_t a : added) {
    absl::StatusOr<uint64_t> pa = TranslateGva(*mem_, mode, a);
    if (!pa.ok() || !points_->Place(a, *pa).ok()) {
      return_place_failures_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    have.insert(std::upper_bound(have.begin(), have.end(), a), a);
  }
}

void LinuxProbes::BeforeCr3Write(int vcpu, uint64_t old_cr3, uint64_t new_cr3) {
  if (vcpu < 0 || vcpu >= static_cast<int>(per_vcpu_.size())) return;
  PageWalkReader reader(*mem_, LongModeWith(old_cr3, per_vcpu_[vcpu].cr4));
  tracker_->OnCr3Write(static_cast<uint32_t>(vcpu), new_cr3, reader);
}

LinuxProbes::Counts LinuxProbes::counts() const {
  Counts c;
  c.hits = hits_.load();
  c.unmatched = unmatched_.load();
  c.events = events_.load();
  c.read_failures = tracker_->read_failures();
  c.emulated = emulated_.load();
  c.stepped = stepped_.load();
  c.return_place_failures = return_place_failures_.load();
  c.loads = loads_.load();
  c.load_failures = load_failures_.load();
  c.sync_cores = sync_cores_.load();
  return c;
}

std::unique_ptr<LinuxProbes> CreateLinuxProbes(const LinuxProbeSources& sources,
                                               std::span<const uint8_t> vmlinux, GuestMemory* mem,
                                               ProbePoints* points, int num_vcpus,
                                               std::string* why) {
  // Read once per kernel: the build-id cache ($TLBSCOPE_KERNEL_CACHE, else
  // $XDG_CACHE_HOME/tlbscope/kernels; "off" for none).
  introspect::CacheNote note;
  absl::StatusOr<introspect::KernelKnowledge> k =
      introspect::LoadKernelKnowledgeCached(vmlinux, {sources.system_map, sources.kernel_btf},
                                            introspect::DefaultKernelCacheDir(), &note);
  if (!note.line.empty()) Log("kernel knowledge cache: %s", note.line);
  if (!k.ok()) {
    *why = absl::StrFormat("kernel knowledge: %s", k.status().message());
    return nullptr;
  }
  if (!k->complete()) {
    *why = k->Summary();
    return nullptr;
  }
  auto probes =
      std::make_unique<LinuxProbes>(std::make_unique<introspect::KernelKnowledge>(*std::move(k)),
                                    vmlinux, mem, points, num_vcpus);
  if (probes->plan().probes.empty()) {
    *why = "no probe could be placed";
    for (const std::string& p : probes->plan().problems) *why += "; " + p;
    return nullptr;
  }
  return probes;
}

}  // namespace tlbscope
