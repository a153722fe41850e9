#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "tlbscope/v1/trace_service.grpc.pb.h"
#include "vmm/rpc/retention.h"
#include "vmm/trace/pipeline.h"

namespace tlbscope {

struct TraceServiceOptions {
  std::string token;        // required as "authorization: Bearer <token>" when set
  std::string record_path;  // events no longer retained are read back from here
  int num_vcpus = 1;
  size_t max_batch = 256;
  int max_streams = 64;  // Subscribe streams open at once; more: RESOURCE_EXHAUSTED
};

// TraceService: Subscribe streams from Retention (falling back to the trace
// file for sequences memory no longer holds); GetSession reports the header
// and live counters. Each subscriber has one write in flight; the pipeline
// never waits for it.
class TraceServiceImpl final : public v1::TraceService::Service {
 public:
  TraceServiceImpl(v1::TraceHeader header, Retention* retention, const TracePipeline* pipeline,
                   TraceServiceOptions options);

  grpc::Status Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                         grpc::ServerWriter<v1::EventBatch>* out) override;
  grpc::Status GetSession(grpc::ServerContext* ctx, const v1::GetSessionRequest* req,
                          v1::Session* out) override;

  // Blocks until the first Subscribe arrives or `give_up` returns true.
  void WaitForSubscriber(const std::function<bool()>& give_up);
  // After the guest stopped: blocks until `deadline`, or sooner once no
  // stream is open and the last one to close had received everything (one
  // that dropped out may come back to resume).
  void WaitForSubscribersDone(std::chrono::steady_clock::time_point deadline);
  void SetRunning(bool running) { running_.store(running); }

 private:
  grpc::Status CheckToken(grpc::ServerContext* ctx) const;
  grpc::Status StreamFromFile(grpc::ServerContext* ctx, const v1::SubscribeRequest& req,
                              uint64_t& next, uint64_t until,
                              grpc::ServerWriter<v1::EventBatch>* out);
  bool Wanted(const v1::SubscribeRequest& req, const v1::Event& e) const;

  v1::TraceHeader header_;
  Retention* retention_;
  const TracePipeline* pipeline_;
  TraceServiceOptions options_;
  std::atomic<bool> running_{true};
  std::mutex mu_;
  std::condition_variable cv_;
  int subscribers_seen_ = 0;
  int active_ = 0;
  bool last_completed_ = false;
};

}  // namespace tlbscope
