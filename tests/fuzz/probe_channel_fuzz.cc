// The probe channel (vmm/devices/probe_channel.h), the guest's messages to
// the VMM, on arbitrary guest memory and port writes. The input is a
// series of steps: [vcpu:1][gpa:2][len:1][len bytes]: the bytes are put in
// guest memory at gpa, then vCPU (vcpu & 3) OUTs gpa to the probe port (a
// 2-byte OUT when vcpu's bit 7 is set, which the channel must refuse; no
// OUT when bit 6 is set: the step only writes memory).
// LOG and RING messages go to a trace pipeline, drained at the end.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "tests/fuzz/guest_memory.h"
#include "tlbscope/probe_abi.h"
#include "vmm/devices/probe_channel.h"
#include "vmm/trace/pipeline.h"

namespace {

class CountSink : public tlbscope::EventSink {
 public:
  void OnEvents(const std::vector<tlbscope::v1::Event>& events) override { n += events.size(); }
  void OnEnd(const tlbscope::v1::TraceEnd&) override {}
  uint64_t n = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kMem = 64 << 10;
  tlbscope::GuestMemory& mem = tlbscope::fuzz::SharedGuestMemory(kMem);
  std::memset(mem.host_base(), 0, kMem);
  // Not started: the vCPU rings hold every LOG the input can send (a step
  // is 4 bytes at least), or Append would wait for a sequencer.
  tlbscope::TracePipeline trace(4, size / 4 + 1);
  CountSink sink;
  trace.AddSink(&sink);
  tlbscope::ProbeChannel channel(&mem);
  channel.SetTrace(&trace);
  size_t i = 0;
  while (size - i >= 4) {
    uint8_t vcpu = data[i];
    uint32_t gpa = data[i + 1] | (uint32_t{data[i + 2]} << 8);
    size_t len = std::min<size_t>(data[i + 3], size - i - 4);
    i += 4;
    size_t fit = std::min<size_t>(len, kMem - gpa);
    std::memcpy(mem.host_base() + gpa, data + i, fit);
    i += len;
    if (vcpu & 0x40) continue;
    uint8_t out[4];
    std::memcpy(out, &gpa, 4);
    std::span<const uint8_t> port(out, (vcpu & 0x80) ? 2 : 4);
    tlbscope::IoOutcome r = channel.Write(vcpu & 3, TLBSCOPE_PROBE_PORT, port);
    if (r.has_value() && r->message.empty()) std::abort();
    if (r.has_value()) break;  // the VM stops here
  }
  trace.Finish(tlbscope::v1::TraceEnd());
  if (channel.report().rings > 4) std::abort();  // one per vCPU
  return 0;
}
