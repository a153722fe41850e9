// The stream side's throughput, measured in one run (issue 16): events
// appended by vCPU threads go through the real sequencer (TracePipeline) to
// the recorder, to Retention + TraceService over loopback gRPC, and to a
// live collector (collect::Live, what `tlbcollect live` runs). Each
// benchmark counts every event each consumer got and reports `lost`
// (must be 0), the rate per consumer, and the process's peak RSS so far.
//
//   build/bench/tlbscope_stream_bench --benchmark_counters_tabular=true

#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collectors/collector.h"
#include "collectors/live_source.h"
#include "tlbscope/v1/trace_service.grpc.pb.h"
#include "vmm/rpc/retention.h"
#include "vmm/rpc/server.h"
#include "vmm/rpc/trace_service.h"
#include "vmm/trace/pipeline.h"
#include "vmm/trace/recorder.h"
#include "vmm/trace/trace_reader.h"

namespace tlbscope {
namespace {

constexpr int kVcpus = 2;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double PeakRssMiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

std::string TempPath(const char* name) {
  return absl::StrCat("/tmp/tlbscope_stream_bench_", getpid(), "_", name);
}

// What a trapped INVLPG looks like on the stream (RIP, symbol-free).
v1::Event MakeEvent(uint64_t i) {
  v1::Event e;
  e.mutable_trap()->set_rip(0xffffffff81000000ull + (i & 0xfff));
  e.mutable_invlpg()->set_linear_address(0x7f0000000000ull + (i << 12));
  return e;
}

v1::TraceHeader Header() {
  v1::TraceHeader h;
  h.set_schema_version(1);
  h.mutable_vm()->set_smp(kVcpus);
  return h;
}

// kVcpus threads append `n` events between them, as vCPU threads do, then
// the pipeline is finished (the sinks get their end).
void Produce(TracePipeline& p, uint64_t n) {
  std::vector<std::thread> vcpus;
  for (int v = 0; v < kVcpus; ++v) {
    vcpus.emplace_back([&p, v, n] {
      for (uint64_t i = v; i < n; i += kVcpus) p.Append(v, MakeEvent(i));
    });
  }
  for (std::thread& t : vcpus) t.join();
  v1::TraceEnd end;
  end.set_events(n);
  end.set_stop_reason("bench");
  p.Finish(end);
}

// Making the events alone, on the same threads: what every figure below
// includes (an Event with its trap context, as a trap handler builds it).
void BM_MakeEvents(benchmark::State& state) {
  const uint64_t n = state.range(0);
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> vcpus;
    for (int v = 0; v < kVcpus; ++v) {
      vcpus.emplace_back([v, n] {
        for (uint64_t i = v; i < n; i += kVcpus) benchmark::DoNotOptimize(MakeEvent(i));
      });
    }
    for (std::thread& t : vcpus) t.join();
    double s = Seconds(start);
    state.SetIterationTime(s);
    state.counters["events_per_s"] = n / s;
  }
}
BENCHMARK(BM_MakeEvents)
    ->Arg(2'000'000)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The sequencer alone (a sink that only counts): the ceiling for every
// consumer below.
class CountingSink : public EventSink {
 public:
  void OnEvents(const std::vector<v1::Event>& events) override { n += events.size(); }
  void OnEnd(const v1::TraceEnd&) override {}
  uint64_t n = 0;
};

void BM_Sequencer(benchmark::State& state) {
  const uint64_t n = state.range(0);
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    TracePipeline p(kVcpus);
    CountingSink sink;
    p.AddSink(&sink);
    p.Start();
    Produce(p, n);
    double s = Seconds(start);
    state.SetIterationTime(s);
    state.counters["events_per_s"] = n / s;
    state.counters["lost"] = static_cast<double>(n - sink.n);
  }
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_Sequencer)
    ->Arg(2'000'000)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The recorder as a sink alone: batches of 256 ready events (as the
// sequencer hands them over) written to a trace file.
void BM_RecorderSink(benchmark::State& state) {
  const uint64_t n = state.range(0);
  std::string path = TempPath("recorder_sink.trace");
  std::vector<v1::Event> batch;
  for (uint64_t i = 0; i < 256; ++i) batch.push_back(MakeEvent(i));
  for (auto _ : state) {
    auto rec = Recorder::Create(path, Header());
    if (!rec.ok()) return state.SkipWithError(rec.status().ToString().c_str());
    auto start = std::chrono::steady_clock::now();
    uint64_t written = 0;
    for (; written < n; written += batch.size()) {
      for (size_t i = 0; i < batch.size(); ++i) batch[i].set_sequence(written + i);
      (*rec)->OnEvents(batch);
    }
    (*rec)->OnEnd(v1::TraceEnd());
    double s = Seconds(start);
    state.SetIterationTime(s);
    absl::StatusOr<TraceSummary> t = ReadTrace(path, nullptr);
    if (!t.ok()) return state.SkipWithError(t.status().ToString().c_str());
    state.counters["events_per_s"] = written / s;
    state.counters["lost"] = static_cast<double>(written - t->events);
  }
  std::remove(path.c_str());
}
BENCHMARK(BM_RecorderSink)
    ->Arg(4'000'000)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_Recorder(benchmark::State& state) {
  const uint64_t n = state.range(0);
  std::string path = TempPath("recorder.trace");
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    TracePipeline p(kVcpus);
    auto rec = Recorder::Create(path, Header());
    if (!rec.ok()) return state.SkipWithError(rec.status().ToString().c_str());
    p.AddSink(rec->get());
    p.Start();
    Produce(p, n);
    double s = Seconds(start);
    state.SetIterationTime(s);
    absl::StatusOr<TraceSummary> t = ReadTrace(path, nullptr);
    if (!t.ok()) return state.SkipWithError(t.status().ToString().c_str());
    state.counters["events_per_s"] = n / s;
    state.counters["lost"] = static_cast<double>(n - t->events);
  }
  state.counters["peak_rss_MiB"] = PeakRssMiB();
  std::remove(path.c_str());
}
BENCHMARK(BM_Recorder)
    ->Arg(2'000'000)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// One subscriber's stream, read to its end (or, stalled, read one batch and
// then nothing until cancelled).
struct Subscriber {
  uint64_t received = 0;
  uint64_t out_of_order = 0;
  double seconds = 0;
  grpc::Status status;
};

void ReadStream(v1::TraceService::Stub& stub, Subscriber& s,
                std::chrono::steady_clock::time_point start) {
  grpc::ClientContext ctx;
  v1::SubscribeRequest req;
  req.set_max_batch(1024);
  auto reader = stub.Subscribe(&ctx, req);
  v1::EventBatch batch;
  while (reader->Read(&batch)) {
    for (const v1::Event& e : batch.events()) {
      if (e.sequence() != s.received) ++s.out_of_order;
      ++s.received;
    }
  }
  s.status = reader->Finish();
  s.seconds = Seconds(start);
}

void StallStream(v1::TraceService::Stub& stub, grpc::ClientContext& ctx,
                 const std::atomic<bool>& release) {
  auto reader = stub.Subscribe(&ctx, v1::SubscribeRequest());
  v1::EventBatch batch;
  reader->Read(&batch);
  while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ctx.TryCancel();
  reader->Finish();
}

// The service of a `tlbscope run --listen --record --retain R`, fed by
// Produce() once every subscriber is connected.
struct Served {
  TracePipeline pipeline{kVcpus};
  Retention retention;
  std::unique_ptr<Recorder> recorder;
  std::unique_ptr<TraceServiceImpl> service;
  std::unique_ptr<RpcServer> server;
  std::string record = TempPath("served.trace");

  explicit Served(size_t retain) : retention(retain) {}
  absl::Status Start() {
    auto rec = Recorder::Create(record, Header());
    if (!rec.ok()) return rec.status();
    recorder = std::move(*rec);
    pipeline.AddSink(recorder.get());
    pipeline.AddSink(&retention);
    TraceServiceOptions o;
    o.record_path = record;
    o.num_vcpus = kVcpus;
    service = std::make_unique<TraceServiceImpl>(Header(), &retention, &pipeline, o);
    ServeOptions so;
    so.listen = "127.0.0.1:0";
    auto srv = RpcServer::Start(so, service.get());
    if (!srv.ok()) return srv.status();
    server = std::move(*srv);
    pipeline.Start();
    return absl::OkStatus();
  }
  ~Served() {
    if (server) server->Shutdown();
    std::remove(record.c_str());
  }
};

// range(0): events; range(1): subscribers that read; range(2): 1 = one
// more subscriber that stalls after its first batch.
void BM_GrpcSubscribe(benchmark::State& state) {
  const uint64_t n = state.range(0);
  const int readers = state.range(1);
  const bool stalled = state.range(2) != 0;
  for (auto _ : state) {
    Served served(100'000);
    if (absl::Status s = served.Start(); !s.ok()) return state.SkipWithError(s.ToString().c_str());
    auto channel =
        grpc::CreateChannel(served.server->address(), grpc::InsecureChannelCredentials());
    auto stub = v1::TraceService::NewStub(channel);
    std::vector<Subscriber> subs(readers);
    std::vector<std::thread> threads;
    std::atomic<bool> release{false};
    grpc::ClientContext stall_ctx;
    auto start = std::chrono::steady_clock::now();
    if (stalled) threads.emplace_back([&] { StallStream(*stub, stall_ctx, release); });
    for (int i = 0; i < readers; ++i) {
      // A channel each, as separate subscriber processes would have.
      threads.emplace_back([&, i] {
        auto own = v1::TraceService::NewStub(
            grpc::CreateChannel(served.server->address(), grpc::InsecureChannelCredentials()));
        ReadStream(*own, subs[i], start);
      });
    }
    served.service->WaitForSubscriber([] { return false; });
    Produce(served.pipeline, n);
    for (size_t i = stalled ? 1 : 0; i < threads.size(); ++i) threads[i].join();
    release = true;
    if (stalled) threads[0].join();
    double slowest = 0, lost = 0, disorder = 0, failed = 0;
    for (const Subscriber& s : subs) {
      slowest = std::max(slowest, s.seconds);
      lost += n - s.received;
      disorder += s.out_of_order;
      failed += s.status.ok() ? 0 : 1;
    }
    state.SetIterationTime(slowest);
    state.counters["events_per_s_each"] = n / slowest;
    state.counters["lost"] = lost;
    state.counters["out_of_order"] = disorder;
    state.counters["failed_streams"] = failed;
  }
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_GrpcSubscribe)
    ->Args({1'000'000, 1, 0})
    ->Args({500'000, 7, 1})
    ->ArgNames({"events", "readers", "stalled"})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// `tlbcollect live` end to end: the collector's Live source over loopback.
void BM_LiveCollect(benchmark::State& state) {
  const uint64_t n = state.range(0);
  for (auto _ : state) {
    Served served(100'000);
    if (absl::Status s = served.Start(); !s.ok()) return state.SkipWithError(s.ToString().c_str());
    collect::Collector c;
    collect::LiveOptions o;
    o.address = served.server->address();
    absl::Status live;
    auto start = std::chrono::steady_clock::now();
    std::thread t([&] { live = collect::Live(o, c, [] {}); });
    served.service->WaitForSubscriber([] { return false; });
    Produce(served.pipeline, n);
    t.join();
    double s = Seconds(start);
    state.SetIterationTime(s);
    if (!live.ok()) return state.SkipWithError(live.ToString().c_str());
    state.counters["events_per_s"] = n / s;
    state.counters["lost"] = static_cast<double>(n - c.events());
  }
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_LiveCollect)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tlbscope

BENCHMARK_MAIN();
