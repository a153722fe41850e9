#include "vmm/cli/probe_host_command.h"

#include <cstdio>

#include "common/cli.h"
#include "common/log.h"
#include "vmm/trap/host_caps.h"
#include "vmm/trap/strategy.h"

namespace tlbscope {
namespace {
const char* YesNo(bool b) { return b ? "yes" : "no"; }
}  // namespace

int ProbeHostCommand(const std::vector<std::string>& args) {
  std::string device = "/dev/kvm";
  CLI::App app(
      "what this host's KVM supports for trapping TLB instructions, and the strategy "
      "each instruction will use",
      "tlbscope probe-host");
  cli::Configure(app);
  app.add_flag("-h,--help")->description("this text");
  app.add_option("--kvm-device", device, "the KVM device (default /dev/kvm)")->type_name("PATH");
  if (std::optional<int> done = cli::ParseCommandArgs(app, args, "probe-host")) return *done;
  absl::StatusOr<HostCaps> c = ProbeHost(device);
  if (!c.ok()) {
    LogError("probe-host", c.status().message());
    return 5;
  }
  std::printf("kvm module:              %s (cpu flags: vmx %s, svm %s)\n", c->kvm_module.c_str(),
              YesNo(c->cpu_vmx), YesNo(c->cpu_svm));
  std::printf("KVM_SET_GUEST_DEBUG:     %s (block irqs while stepping: %s)\n",
              YesNo(c->cap_guest_debug), YesNo(c->cap_blockirq));
  std::printf("KVM_CAP_SYNC_REGS:       %s\n", YesNo(c->cap_sync_regs));
  std::printf("hardware breakpoints:    %d, fire at CPL0: %s\n", c->hw_breakpoints,
              YesNo(c->hw_breakpoint_fires));
  std::printf("single-step at CPL0:     %s\n", YesNo(c->single_step_works));
  std::printf("int3 -> KVM_EXIT_DEBUG:  %s\n", YesNo(c->int3_exits));
  std::printf("int3 -> emulation fail: %s\n", YesNo(c->int3_emulation_failure));
  std::printf("guest CPUID:             pcid %s, invpcid %s, lam %s, pge %s, la57 %s\n",
              YesNo(c->cpuid_pcid), YesNo(c->cpuid_invpcid), YesNo(c->cpuid_lam),
              YesNo(c->cpuid_pge), YesNo(c->cpuid_la57));
  std::printf("invpcid at CPL0:         %s\n", InvpcidBehaviourName(c->invpcid));
  TrapPlan plan = PlanTraps(*c);
  std::printf("strategy mov-cr3:        %s\n", TrapStrategyName(plan.cr3));
  std::printf("strategy invlpg:         %s\n", TrapStrategyName(plan.invlpg));
  std::printf("strategy invpcid:        %s\n", TrapStrategyName(plan.invpcid));
  std::printf("beyond %d sites:         %s\n", c->hw_breakpoints,
              plan.software_breakpoints ? "sw-breakpoint (int3 patched over each further site)"
                                        : "uncovered (no software breakpoints on this host)");
  return 0;
}

}  // namespace tlbscope
