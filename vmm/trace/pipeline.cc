#include "vmm/trace/pipeline.h"

#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "vmm/trace/convert.h"

namespace tlbscope {
namespace {
constexpr auto kPollInterval = std::chrono::microseconds(500);
constexpr int64_t kNone = INT64_MAX;
}  // namespace

int64_t TracePipeline::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string EventKindName(const v1::Event& e) {
  const google::protobuf::FieldDescriptor* f =
      e.GetDescriptor()->FindFieldByNumber(static_cast<int>(e.kind_case()));
  return f != nullptr ? f->name() : "none";
}

TracePipeline::TracePipeline(int num_vcpus, size_t ring_capacity, const TraceClock& clock)
    : clock_(clock), vcpu_seq_(num_vcpus, 0) {
  TscNsPair start = ReadTscNsPair(clock_);
  tsc0_ = start.tsc;
  ns0_ = start.ns;
  for (int i = 0; i < num_vcpus; ++i) {
    rings_.push_back(std::make_unique<EventRing<v1::Event>>(ring_capacity));
    appending_since_.push_back(std::make_unique<std::atomic<int64_t>>(kNone));
  }
}

TracePipeline::~TracePipeline() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void TracePipeline::AddSink(EventSink* sink) { sinks_.push_back(sink); }

void TracePipeline::Start() {
  thread_ = std::thread([this] { Run(); });
}

void TracePipeline::Append(int vcpu, v1::Event event) {
  // Published before the stamp, so the sequencer holds back anything
  // stamped later than this until the push below is done.
  appending_since_[vcpu]->store(clock_.Ns());
  event.set_vcpu(vcpu);
  event.set_host_time_ns(clock_.Ns());
  // A full ring means the sequencer is behind on this machine's own work:
  // wait for it (it never waits on a subscriber or the network).
  while (!rings_[vcpu]->TryPush(std::move(event))) std::this_thread::yield();
  appending_since_[vcpu]->store(kNone);
}

void TracePipeline::Run() {
  while (!stop_.load()) {
    Drain(false);
    std::this_thread::sleep_for(kPollInterval);
  }
}

namespace {
bool EarlierStamp(const v1::Event& a, const v1::Event& b) {
  return a.host_time_ns() < b.host_time_ns();
}
}  // namespace

// Events from one source (a vCPU ring, a guest ring) arrive in their stamp
// order; each such run is merged into pending_ (stable: on equal stamps the
// older pending event first, then sources in order), which keeps pending_
// sorted in O(n) per pass instead of sorting everything again.
void TracePipeline::MergeRun(size_t run_begin) {
  auto first = pending_.begin() + run_begin;
  if (!std::is_sorted(first, pending_.end(), EarlierStamp)) {
    std::stable_sort(first, pending_.end(), EarlierStamp);
  }
  std::inplace_merge(pending_.begin(), first, pending_.end(), EarlierStamp);
}

void TracePipeline::Drain(bool all) {
  // The order matters: the cutoff first, then the rings. Anything stamped
  // at or before the cutoff is then either in a ring already or held back
  // by its producer's appending_since_.
  // (now - 1: an append whose mark this pass missed stamps at or after now.)
  int64_t cutoff = all ? kNone : clock_.Ns() - 1;
  for (const auto& since : appending_since_) cutoff = std::min(cutoff, since->load() - 1);
  if (!all) cutoff = std::min(cutoff, GuestWritingCutoff());
  for (auto& ring : rings_) {
    size_t run = pending_.size();
    while (std::optional<v1::Event> e = ring->TryPop()) pending_.push_back(std::move(*e));
    MergeRun(run);
  }
  DrainGuestRings();
  if (pending_.empty()) return;
  auto split = std::upper_bound(pending_.begin(), pending_.end(), cutoff,
                                [](int64_t c, const v1::Event& e) { return c < e.host_time_ns(); });
  if (split == pending_.begin()) return;
  // batch_ and pending_ keep their capacity from pass to pass: fresh pages
  // for every batch cost more than the events themselves (page faults).
  std::vector<v1::Event>& batch = batch_;
  batch.clear();
  if (split == pending_.end()) {
    batch.swap(pending_);
  } else {
    batch.insert(batch.end(), std::make_move_iterator(pending_.begin()),
                 std::make_move_iterator(split));
    pending_.erase(pending_.begin(), split);
  }
  {
    std::lock_guard<std::mutex> lock(counters_mu_);
    for (v1::Event& e : batch) {
      e.set_sequence(next_sequence_++);
      e.set_vcpu_sequence(vcpu_seq_[e.vcpu()]++);
      ++counters_.events;
      ++counters_.per_vcpu[e.vcpu()];
      size_t k = static_cast<size_t>(e.kind_case());
      ++per_kind_number_[k < per_kind_number_.size() ? k : 0];
    }
  }
  for (EventSink* s : sinks_) s->OnEvents(batch);
}

void TracePipeline::AddGuestRing(int vcpu, tlbscope_ring* ring, uint32_t nslots) {
  std::lock_guard<std::mutex> lock(guest_rings_mu_);
  // The consumer index starts where the guest's header said at
  // registration (0 for a fresh ring); from here on the host owns it.
  guest_rings_.push_back({vcpu, ring, nslots, __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE)});
}

int64_t GuestTscToHostNs(uint64_t tsc, uint64_t tsc0, int64_t ns0, uint64_t tsc1, int64_t ns1) {
  if (tsc >= tsc1) return ns1;  // from the future: no later than now
  double ns_per_tsc = tsc1 > tsc0 ? static_cast<double>(ns1 - ns0) / (tsc1 - tsc0) : 0;
  // The guest picks tsc, and a calibration taken over microseconds can be
  // far off: bound `back` before it becomes an integer.
  double back = static_cast<double>(tsc1 - tsc) * ns_per_tsc;
  if (!(back < static_cast<double>(ns1))) return 0;  // before the host clock's start
  return ns1 - static_cast<int64_t>(back);
}

int64_t TracePipeline::GuestTscToNs(uint64_t tsc, uint64_t tsc1, int64_t ns1) const {
  return GuestTscToHostNs(tsc, tsc0_, ns0_, tsc1, ns1);
}

int64_t TracePipeline::GuestWritingCutoff() {
  std::lock_guard<std::mutex> lock(guest_rings_mu_);
  int64_t cutoff = kNone;
  const auto [tsc1, ns1, tsc_max] = ReadTscNsPair(clock_);
  for (GuestRing& g : guest_rings_) {
    if (g.refused) continue;
    uint64_t w = __atomic_load_n(&g.ring->writing_tsc, __ATOMIC_ACQUIRE);
    // A stamp from before the pipeline started or from the future is no
    // record in progress (a guest could otherwise hold back every event).
    if (w == 0 || w < tsc0_ || w > tsc_max) continue;
    cutoff = std::min(cutoff, GuestTscToNs(w, tsc1, ns1) - 1);
  }
  return cutoff;
}

void TracePipeline::DrainGuestRings() {
  std::lock_guard<std::mutex> lock(guest_rings_mu_);
  if (guest_rings_.empty()) return;
  // Every head first, then the (TSC, ns) pair that dates the records, so
  // each record to copy was stamped before the pair: none is from the pair's
  // future. (The pair read first, a record published while this thread was
  // preempted before the head read was clamped to the pair's time, up to a
  // scheduler slice before it was written, and sorted before host events
  // that came earlier: issue 17 item 6.)
  std::vector<uint64_t>& heads = guest_heads_;
  heads.assign(guest_rings_.size(), 0);
  for (size_t i = 0; i < guest_rings_.size(); ++i) {
    GuestRing& g = guest_rings_[i];
    if (g.refused) continue;
    // head is read once per pass; nslots and tail are the host's own.
    heads[i] = __atomic_load_n(&g.ring->head, __ATOMIC_ACQUIRE);
    if (heads[i] < g.tail || heads[i] - g.tail > g.nslots) RefuseGuestRing(g, heads[i]);
  }
  const TscNsPair now = ReadTscNsPair(clock_);
  for (size_t i = 0; i < guest_rings_.size(); ++i) {
    if (!guest_rings_[i].refused) CopyGuestRecords(guest_rings_[i], heads[i], now);
  }
}

void TracePipeline::RefuseGuestRing(GuestRing& g, uint64_t head) {
  g.refused = true;
  {
    std::lock_guard<std::mutex> c(counters_mu_);
    ++counters_.guest_rings_refused;
  }
  Log("vcpu %d: guest event ring is corrupt (head %d, consumed %d, %d slots): no longer "
      "drained, its %d records so far are kept",
      g.vcpu, head, g.tail, g.nslots, g.tail);
}

void TracePipeline::CopyGuestRecords(GuestRing& g, uint64_t head, const TscNsPair& now) {
  size_t run = pending_.size();
  const auto* slots = reinterpret_cast<const tlbscope_ring_record*>(g.ring + 1);
  for (; g.tail < head; ++g.tail) {
    tlbscope_ring_record rec;
    std::memcpy(&rec, &slots[g.tail & (g.nslots - 1)], sizeof(rec));
    v1::Event e = GuestRecordToEvent(rec);
    e.set_vcpu(g.vcpu);
    e.set_guest_tsc(rec.tsc);
    e.set_host_time_ns(GuestTscToNs(rec.tsc, now.tsc, now.ns));
    pending_.push_back(std::move(e));
  }
  __atomic_store_n(&g.ring->tail, g.tail, __ATOMIC_RELEASE);
  MergeRun(run);
}

void TracePipeline::Finish(v1::TraceEnd end) {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  Drain(true);
  end.set_events(next_sequence_);
  for (EventSink* s : sinks_) s->OnEnd(end);
}

TracePipeline::Counters TracePipeline::counters() const {
  std::lock_guard<std::mutex> lock(counters_mu_);
  Counters c = counters_;
  for (size_t k = 0; k < per_kind_number_.size(); ++k) {
    if (per_kind_number_[k] == 0) continue;
    const google::protobuf::FieldDescriptor* f =
        v1::Event::GetDescriptor()->FindFieldByNumber(static_cast<int>(k));
    c.per_kind[f != nullptr ? f->name() : "none"] += per_kind_number_[k];
  }
  return c;
}

}  // namespace tlbscope
