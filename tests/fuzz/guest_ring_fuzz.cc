// The drain of a guest's event ring (TracePipeline::AddGuestRing, through
// the probe channel's RING registration) on a hostile guest: the ring
// header the guest registers (input bytes [0, 128)), the header it
// rewrites after registration ([128, 256): nslots, head, tail, anything),
// and the slots (the rest). The drained events go through a Collector.
// The drain must stay inside the registered ring and never deliver more
// than the registered slot count.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "collectors/collector.h"
#include "tests/fuzz/guest_memory.h"
#include "tlbscope/probe_abi.h"
#include "vmm/devices/probe_channel.h"
#include "vmm/trace/pipeline.h"

namespace {

class CollectSink : public tlbscope::EventSink {
 public:
  void OnEvents(const std::vector<tlbscope::v1::Event>& events) override {
    for (const tlbscope::v1::Event& e : events) collector.Observe(e);
    n += events.size();
  }
  void OnEnd(const tlbscope::v1::TraceEnd&) override {}
  tlbscope::collect::Collector collector;
  uint64_t n = 0;
};

constexpr uint64_t kMem = 64 << 10;
constexpr uint64_t kRing = 0x1000;  // the ring's guest physical address
constexpr uint64_t kMsg = 0x800;    // the RING message

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 * sizeof(tlbscope_ring)) return 0;
  tlbscope::GuestMemory& mem = tlbscope::fuzz::SharedGuestMemory(kMem);
  std::memset(mem.host_base(), 0, kMem);
  uint8_t* ring = mem.host_base() + kRing;
  std::memcpy(ring, data, sizeof(tlbscope_ring));
  size_t slots =
      std::min<size_t>(size - 2 * sizeof(tlbscope_ring), kMem - kRing - sizeof(tlbscope_ring));
  std::memcpy(ring + sizeof(tlbscope_ring), data + 2 * sizeof(tlbscope_ring), slots);

  tlbscope::TracePipeline trace(1, 64);
  CollectSink sink;
  trace.AddSink(&sink);
  tlbscope::ProbeChannel channel(&mem);
  channel.SetTrace(&trace);
  tlbscope_probe_msg msg{};
  msg.magic = TLBSCOPE_PROBE_MAGIC;
  msg.abi_version = TLBSCOPE_PROBE_ABI_VERSION;
  msg.kind = TLBSCOPE_PROBE_RING;
  msg.arg[0] = kRing;
  std::memcpy(mem.host_base() + kMsg, &msg, sizeof(msg));
  uint32_t gpa = kMsg;
  tlbscope::IoOutcome r =
      channel.Write(0, TLBSCOPE_PROBE_PORT, {reinterpret_cast<uint8_t*>(&gpa), 4});
  if (r.has_value()) return 0;  // refused at registration
  uint32_t nslots = reinterpret_cast<const tlbscope_ring*>(data)->nslots;
  // The guest rewrites its header after registration.
  std::memcpy(ring, data + sizeof(tlbscope_ring), sizeof(tlbscope_ring));
  trace.Finish(tlbscope::v1::TraceEnd());
  if (sink.n > nslots) std::abort();
  sink.collector.Finish(true);
  return 0;
}
