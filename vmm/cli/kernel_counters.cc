#include "vmm/cli/kernel_counters.h"

#include "absl/strings/str_format.h"
#include "tlbscope/v1/run_result.pb.h"

namespace tlbscope {
namespace {

// What a check needs on tlbscope's side. kBootCopies: with more than one
// CPU, the kernel page flushes made on the boot per-CPU area (counted once
// per CPU by /proc/vmstat), known only from the probes' events.
enum Needs { kTraps = 1, kProbes = 2, kBootCopies = 4 };

struct Spec {
  const char* counter;
  bool at_most;
  const char* what;
  int needs;
  // tlbscope's count from `c`: the whole run's tally, or its counts at one
  // of the guest's read marks (rows without kTraps only read `c`).
  uint64_t (*ours)(const ObservedTlbCounts&, const collect::KernelCounts& c);
};

// The probe rows first (exact), then the trapped-instruction bounds. The
// probes' flush_func says `full` from the CR3 write trapped inside it, so
// the local rows need the traps too.
constexpr Spec kSpecs[] = {
    {"nr_tlb_remote_flush", false, "flush requests with another CPU in the cpumask", kProbes,
     [](const ObservedTlbCounts&, const collect::KernelCounts& c) { return c.remote_sent; }},
    {"nr_tlb_remote_flush_received", false, "flush_tlb_func runs for another CPU", kProbes,
     [](const ObservedTlbCounts&, const collect::KernelCounts& c) { return c.remote_received; }},
    {"nr_tlb_local_flush_all", false, "local full flush_tlb_func runs", kProbes | kTraps,
     [](const ObservedTlbCounts&, const collect::KernelCounts& c) { return c.local_full; }},
    {"nr_tlb_local_flush_one", false,
     "pages of local partial flush_tlb_func runs and kernel page flushes (boot per-CPU ones "
     "once per CPU)",
     kProbes | kTraps,
     [](const ObservedTlbCounts& o, const collect::KernelCounts& c) {
       return c.local_one_pages + o.BootPercpuCopies(c);
     }},
    {"nr_tlb_local_flush_all", true, "trapped CR3 writes", kTraps,
     [](const ObservedTlbCounts& o, const collect::KernelCounts&) { return o.cr3_writes; }},
    {"nr_tlb_local_flush_one", true, "trapped INVLPGs (and boot per-CPU copies)",
     kTraps | kBootCopies,
     [](const ObservedTlbCounts& o, const collect::KernelCounts& c) {
       return o.invlpgs + o.BootPercpuCopies(c);
     }},
};

// The one value printed for `name`; an error message when it was not
// printed or printed more than once with different values.
std::optional<uint64_t> OneValue(const std::vector<LinuxCounter>& all, const std::string& name,
                                 std::string* why) {
  std::optional<uint64_t> v;
  int times = 0;
  bool differ = false;
  for (const LinuxCounter& c : all) {
    if (c.source != "vmstat" || c.name != name || c.values.size() != 1) continue;
    ++times;
    differ |= v && *v != c.values[0];
    v = c.values[0];
  }
  if (!v) {
    *why =
        "the guest did not print it (a kernel without CONFIG_DEBUG_TLBFLUSH, or /init did not "
        "reach its last lines)";
  } else if (differ) {
    *why = absl::StrFormat("the guest printed it %d times with different values", times);
    v.reset();
  }
  return v;
}

std::string OursMissing(int needs, const ObservedTlbCounts& o) {
  if ((needs & kTraps) && !o.trapped) return "TLB instructions were not trapped (--no-trap)";
  if ((needs & kProbes) && !o.collected) return "no collector (--no-collect)";
  if ((needs & kProbes) && o.guest_events == 0) {
    return "no probe events in the trace (the kernel's TLB functions were not probed)";
  }
  if ((needs & kBootCopies) && o.online_cpus > 1 && (!o.collected || o.guest_events == 0)) {
    return "the boot per-CPU area's page flushes, which /proc/vmstat counts once per CPU, are "
           "known only from the Linux probes' events (none here)";
  }
  return "";
}

std::string MismatchReason(const CounterCheck& c) {
  if (c.at_most) return "tlbscope trapped fewer than the kernel flushed: it missed instructions";
  if (c.ours_at_read_begin && c.kernel < *c.ours_at_read_begin) {
    return "tlbscope saw more before the guest read the counters: events invented or counted "
           "twice";
  }
  if (c.ours < c.kernel && c.begin && c.ours == c.kernel - *c.begin) {
    return "tlbscope's count is the kernel's since /init started: the events before user space "
           "are missing";
  }
  if (c.ours < c.kernel) return "tlbscope saw fewer: it missed events";
  return "tlbscope saw more: events invented or counted twice";
}

CounterCheck Check(const Spec& s, const LinuxConsoleReport& console, const ObservedTlbCounts& o) {
  CounterCheck c;
  c.counter = s.counter;
  c.at_most = s.at_most;
  c.ours_what = s.what;
  std::optional<uint64_t> end = OneValue(console.counters, c.counter, &c.reason);
  if (!end) return c;
  c.kernel = *end;
  std::string unused;
  c.begin = OneValue(console.begin_counters, c.counter, &unused);
  if (c.begin && *c.begin > c.kernel) {
    c.reason = absl::StrFormat("lower at the end (%d) than as /init started (%d): not a counter",
                               c.kernel, *c.begin);
    return c;
  }
  c.reason = OursMissing(s.needs, o);
  if (!c.reason.empty()) return c;
  bool agree = false;
  if (s.at_most) {
    c.ours = s.ours(o, o.tally);
    agree = c.kernel <= c.ours;
  } else if (o.tally.read_begin && o.tally.read_end) {
    c.ours_at_read_begin = s.ours(o, *o.tally.read_begin);
    c.ours = s.ours(o, *o.tally.read_end);
    agree = *c.ours_at_read_begin <= c.kernel && c.kernel <= c.ours;
  } else {
    c.ours = s.ours(o, o.tally);
    agree = c.kernel == c.ours;
  }
  c.verdict = agree ? CounterVerdict::kAgree : CounterVerdict::kMismatch;
  if (!agree) c.reason = MismatchReason(c);
  return c;
}

// " K == OURS what", " K <= OURS what", or with the guest's read marks
// " K in [FROM, TO] what, as the guest read them" (" K == OURS ..." when
// nothing was counted while it read).
std::string CheckedValues(const CounterCheck& c) {
  if (!c.ours_at_read_begin) {
    return absl::StrFormat(" %d %s %d %s", c.kernel, c.at_most ? "<=" : "==", c.ours, c.ours_what);
  }
  if (*c.ours_at_read_begin == c.ours) {
    return absl::StrFormat(" %d == %d %s, as the guest read them", c.kernel, c.ours, c.ours_what);
  }
  return absl::StrFormat(" %d in [%d, %d] %s, as the guest read them", c.kernel,
                         *c.ours_at_read_begin, c.ours, c.ours_what);
}

const char* VerdictName(CounterVerdict v) {
  switch (v) {
    case CounterVerdict::kAgree:
      return "agree";
    case CounterVerdict::kMismatch:
      return "mismatch";
    case CounterVerdict::kNotChecked:
      return "not checked";
  }
  return "?";
}

}  // namespace

uint64_t ObservedTlbCounts::BootPercpuCopies(const collect::KernelCounts& c) const {
  return online_cpus > 1 ? c.boot_percpu_one_pages * static_cast<uint64_t>(online_cpus - 1) : 0;
}

std::vector<CounterCheck> CompareKernelCounters(const LinuxConsoleReport& console,
                                                const ObservedTlbCounts& ours) {
  std::vector<CounterCheck> out;
  if (!console.seen) return out;
  for (const Spec& s : kSpecs) out.push_back(Check(s, console, ours));
  return out;
}

int CountCounterMismatches(const std::vector<CounterCheck>& checks) {
  int n = 0;
  for (const CounterCheck& c : checks) n += c.verdict == CounterVerdict::kMismatch ? 1 : 0;
  return n;
}

void PrintCounterChecks(const std::vector<CounterCheck>& checks, std::FILE* out) {
  if (checks.empty()) return;
  int counts[3] = {0, 0, 0};
  for (const CounterCheck& c : checks) {
    ++counts[static_cast<int>(c.verdict)];
    std::string line = absl::StrFormat("tlbscope: kernel counter %s", c.counter);
    if (c.verdict == CounterVerdict::kNotChecked) {
      line += absl::StrFormat(" vs %s: not checked (%s)", c.ours_what, c.reason);
    } else {
      line += CheckedValues(c);
      if (c.begin) line += absl::StrFormat(" (%d as /init started)", *c.begin);
      line += c.verdict == CounterVerdict::kAgree ? ": agree" : ": MISMATCH: " + c.reason;
    }
    std::fprintf(out, "%s\n", line.c_str());
  }
  std::fprintf(out, "tlbscope: kernel counters: %d agree, %d disagree, %d not checked\n", counts[0],
               counts[1], counts[2]);
}

void AddCounterChecks(const std::vector<CounterCheck>& checks, v1::RunResult* pb) {
  for (const CounterCheck& c : checks) {
    v1::KernelCounterCheck* p = pb->add_kernel_counter_checks();
    p->set_counter(c.counter);
    p->set_relation(c.at_most ? "at_most" : "equal");
    p->set_tlbscope_counts(c.ours_what);
    p->set_kernel(c.kernel);
    p->set_tlbscope(c.ours);
    if (c.ours_at_read_begin) p->set_tlbscope_at_read_begin(*c.ours_at_read_begin);
    p->set_at_guest_read(c.ours_at_read_begin.has_value());
    if (c.begin) p->set_kernel_at_start(*c.begin);
    p->set_verdict(VerdictName(c.verdict));
    p->set_reason(c.reason);
  }
}

}  // namespace tlbscope
