// The TLB instructions the kernel's alternatives patch into its text at
// boot (vmm/linux/alt_sites.h): traced where they run, once that patching
// is done -- the Linux probes' boot gate tells when.
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "vmm/linux/alt_sites.h"
#include "vmm/machine/machine_parts.h"

namespace tlbscope {

void DeferAlternativeSites(LoadedGuest& guest, TrapEngine* engine, LinuxProbes* probes,
                           TrapSummary& summary) {
  std::vector<TlbSite> replacements;
  for (const TlbSite& s : summary.excluded) {
    if (s.section == ".altinstr_replacement") replacements.push_back(s);
  }
  if (replacements.empty() || engine == nullptr) return;
  std::string why;
  if (probes == nullptr) {
    why = "they need the Linux probes (the kernel's knowledge) to be mapped";
  } else if (!probes->waits_for_boot()) {
    why =
        "the kernel's knowledge lacks system_state or SYSTEM_SCHEDULING, so the end of its "
        "boot-time patching is unknown";
  } else if (absl::StatusOr<AltSitePlan> plan =
                 PlanAlternativeSites(guest.image(), probes->knowledge().layout, replacements);
             !plan.ok()) {
    why = std::string(plan.status().message());
  } else {
    for (const std::string& p : plan->problems) Log("traps: alternative site not mapped: %s", p);
    summary.boot_patched = plan->sites;
    engine->AddDeferredSites(std::move(plan->sites));
    summary.note += absl::StrFormat(
        "; the %d of .altinstr_replacement traced where the kernel's alternatives put them (%d "
        "places), from the end of its boot-time patching",
        replacements.size(), summary.boot_patched.size());
    return;
  }
  summary.note += absl::StrFormat(
      "; the %d of .altinstr_replacement not traced where the kernel "
      "patches them in: %s",
      replacements.size(), why);
}

void SummarizeDeferredSites(const TrapEngine& engine, TrapSummary& summary) {
  summary.deferred = engine.deferred();
  const TrapEngine::DeferredReport& d = summary.deferred;
  if (!d.written_over.empty()) {
    Log("traps: the kernel's boot-time patching wrote over %d of the %d TLB sites int3'd at the "
        "start (no longer traced there): %s",
        d.written_over.size(), d.checked_sites, absl::StrJoin(d.written_over, "; "));
  }
  if (summary.boot_patched.empty()) return;
  if (!d.done) {
    Log("traps: the %d alternative sites never got their int3: the kernel never reached "
        "SYSTEM_SCHEDULING",
        d.waiting);
    return;
  }
  std::vector<std::string> placed;
  for (const TlbSite& s : d.placed) placed.push_back(absl::StrFormat("%#x", s.address));
  Log("traps: after the kernel's boot-time patching, int3 on %d alternative sites (%s); %d left "
      "as the kernel's own code%s%s",
      d.placed.size(), absl::StrJoin(placed, " "), d.absent.size(), d.absent.empty() ? "" : ": ",
      absl::StrJoin(d.absent, "; "));
}

}  // namespace tlbscope
