#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vmm/kvm/guest_memory.h"
#include "vmm/trace/pipeline.h"
#include "vmm/vcpu/io_bus.h"
#include "vmm/vcpu/tlb_counts.h"

namespace tlbscope {

struct GuestCheck {
  int cpu;
  std::string name;
  bool passed;
  std::string detail;
};

// The guest's own count of the TLB instructions it executed on one CPU.
using GuestTlbCounts = TlbCounts;

// Everything the guest told the VMM through the probe channel.
struct GuestReport {
  std::string guest_name;  // from HELLO
  int cpus_found = 0;      // from HELLO
  std::set<int> cpus_online;
  std::vector<GuestCheck> checks;
  std::vector<std::string> log;
  std::map<int, GuestTlbCounts> tlb_counts;           // by CPU
  int rings = 0;                                      // event rings registered
  std::optional<std::pair<uint64_t, uint64_t>> done;  // passed, failed
  int passed() const;
  int failed() const;
};

// ucall-style channel at TLBSCOPE_PROBE_PORT: the guest OUTs the guest
// physical address of a struct tlbscope_probe_msg and the VMM reads it here.
// ASSERT and EXCEPTION stop the VM; a malformed message does too.
class ProbeChannel : public IoDevice {
 public:
  explicit ProbeChannel(const GuestMemory* mem) : mem_(mem) {}
  std::string_view name() const override { return "probe"; }
  IoOutcome Write(int vcpu, uint16_t port, std::span<const uint8_t> data) override;
  IoOutcome Read(int vcpu, uint16_t port, std::span<uint8_t> data) override;

  const GuestReport& report() const { return report_; }
  // LOG messages become GuestLog events on the sending vCPU's ring, and
  // RING messages hand the guest's event rings to the pipeline.
  void SetTrace(TracePipeline* trace) { trace_ = trace; }

 private:
  IoOutcome RegisterRing(int vcpu, uint64_t gpa);

  const GuestMemory* mem_;
  TracePipeline* trace_ = nullptr;
  GuestReport report_;
  std::set<int> ring_vcpus_;  // one event ring per vCPU, at most
};

// "#PF" for 14, "vector 200" for the rest.
std::string ExceptionName(uint64_t vector);

}  // namespace tlbscope
