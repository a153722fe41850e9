#include "vmm/cli/trace_info_command.h"

#include <cstdio>
#include <map>

#include "absl/strings/str_format.h"
#include "common/cli.h"
#include "common/log.h"
#include "vmm/trace/pipeline.h"
#include "vmm/trace/trace_reader.h"

namespace tlbscope {

int TraceInfoCommand(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  CLI::App app(
      "summarize a trace recorded with `tlbscope run --record FILE`: the header, "
      "counts per event kind and per vCPU, the first and last sequence, and how the "
      "run ended",
      "tlbscope trace-info");
  cli::Configure(app);
  app.add_flag("-h,--help")->description("this text");
  app.add_option("FILE", files, "a trace file");
  if (std::optional<int> done = cli::ParseCommandArgs(app, args, "trace-info")) return *done;
  if (files.size() != 1) {
    LogError("trace-info", absl::StrFormat("expected one FILE argument (got %zu)", files.size()));
    return 2;
  }
  const std::string& path = files[0];
  std::map<std::string, uint64_t> per_kind;
  std::map<uint32_t, uint64_t> per_vcpu;
  uint64_t first = 0, last = 0;
  bool any = false;
  absl::StatusOr<TraceSummary> t = ReadTrace(path, [&](const v1::Event& e) {
    ++per_kind[EventKindName(e)];
    ++per_vcpu[e.vcpu()];
    if (!any) first = e.sequence();
    last = e.sequence();
    any = true;
  });
  if (!t.ok()) {
    LogError("trace-info", t.status().message());
    return 2;
  }
  const v1::TraceHeader& h = t->header;
  std::printf("trace:      %s (schema %u, tlbscope %s)\n", path.c_str(), h.schema_version(),
              h.tlbscope_version().c_str());
  std::printf("kernel:     %s, %llu bytes, sha256 %s, build id %s\n", h.kernel().path().c_str(),
              static_cast<unsigned long long>(h.kernel().size()), h.kernel().sha256().c_str(),
              h.kernel().build_id().empty() ? "none" : h.kernel().build_id().c_str());
  std::printf("vm:         %u vCPUs, %llu MiB, %s boot, cmdline \"%s\"\n", h.vm().smp(),
              static_cast<unsigned long long>(h.vm().mem_mib()), h.vm().boot_protocol().c_str(),
              h.vm().cmdline().c_str());
  std::printf("host:       %s, %u debug registers, int3 %s\n", h.host().kvm_module().c_str(),
              h.host().hw_breakpoints(),
              h.host().int3_exits()               ? "KVM_EXIT_DEBUG"
              : h.host().int3_emulation_failure() ? "emulation failure"
                                                  : "unusable");
  std::printf("traps:      mov-cr3=%s invlpg=%s invpcid=%s; %d hw, %d int3, %d uncovered sites\n",
              h.traps().cr3().c_str(), h.traps().invlpg().c_str(), h.traps().invpcid().c_str(),
              h.traps().hw_breakpoint_sites_size(), h.traps().int3_sites_size(),
              h.traps().uncovered_sites_size());
  if (any) {
    std::printf("events:     %llu, sequence %llu..%llu\n",
                static_cast<unsigned long long>(t->events), static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(last));
  } else {
    std::printf("events:     0\n");
  }
  for (const auto& [kind, n] : per_kind) {
    std::printf("  %-16s %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
  }
  for (const auto& [vcpu, n] : per_vcpu) {
    std::printf("  vcpu %-11u %llu\n", vcpu, static_cast<unsigned long long>(n));
  }
  if (t->end) {
    std::printf("end:        %s, exit code %d: %s\n", t->end->stop_reason().c_str(),
                t->end->exit_code(), t->end->stop_message().c_str());
  } else {
    std::printf("end:        none: the trace was cut short after %llu events\n",
                static_cast<unsigned long long>(t->events));
  }
  return 0;
}

}  // namespace tlbscope
