#include "vmm/rpc/trace_service.h"

#include "absl/strings/str_format.h"
#include "vmm/trace/trace_reader.h"

namespace tlbscope {
namespace {
constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr size_t kMaxBatch = 65536;  // a client's max_batch is capped here
}  // namespace

TraceServiceImpl::TraceServiceImpl(v1::TraceHeader header, Retention* retention,
                                   const TracePipeline* pipeline, TraceServiceOptions options)
    : header_(std::move(header)),
      retention_(retention),
      pipeline_(pipeline),
      options_(std::move(options)) {}

grpc::Status TraceServiceImpl::CheckToken(grpc::ServerContext* ctx) const {
  if (options_.token.empty()) return grpc::Status::OK;
  auto it = ctx->client_metadata().find("authorization");
  if (it == ctx->client_metadata().end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing bearer token");
  }
  std::string got(it->second.data(), it->second.size());
  if (got != "Bearer " + options_.token) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong bearer token");
  }
  return grpc::Status::OK;
}

bool TraceServiceImpl::Wanted(const v1::SubscribeRequest& req, const v1::Event& e) const {
  if (req.vcpus_size() > 0 &&
      std::find(req.vcpus().begin(), req.vcpus().end(), e.vcpu()) == req.vcpus().end()) {
    return false;
  }
  if (req.kinds_size() > 0 && std::find(req.kinds().begin(), req.kinds().end(),
                                        static_cast<int>(e.kind_case())) == req.kinds().end()) {
    return false;
  }
  return true;
}

grpc::Status TraceServiceImpl::StreamFromFile(grpc::ServerContext* ctx,
                                              const v1::SubscribeRequest& req, uint64_t& next,
                                              uint64_t until,
                                              grpc::ServerWriter<v1::EventBatch>* out) {
  v1::EventBatch batch;
  size_t max =
      std::min<size_t>(req.max_batch() > 0 ? req.max_batch() : options_.max_batch, kMaxBatch);
  bool write_failed = false;
  auto flush = [&](uint64_t next_seq) {
    batch.set_next_sequence(next_seq);
    if (!out->Write(batch)) write_failed = true;
    batch.Clear();
  };
  // Every sequence in [next, until) must come from the file, in order: a
  // gap (a write that failed, a file moved or replaced) is DATA_LOSS naming
  // the range, never a stream that silently skips it.
  uint64_t expect = next;
  uint64_t gap_from = UINT64_MAX, gap_to = 0;
  absl::StatusOr<TraceSummary> t = ReadTrace(options_.record_path, [&](const v1::Event& e) {
    if (write_failed || gap_from != UINT64_MAX || e.sequence() < expect || e.sequence() >= until) {
      return;
    }
    if (e.sequence() != expect) {
      gap_from = expect;
      gap_to = e.sequence() - 1;
      return;
    }
    ++expect;
    if (Wanted(req, e)) *batch.add_events() = e;
    if (static_cast<size_t>(batch.events_size()) >= max) flush(e.sequence() + 1);
  });
  if (write_failed || ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "");
  if (gap_from == UINT64_MAX && expect < until) {
    gap_from = expect;
    gap_to = until - 1;
  }
  if (gap_from != UINT64_MAX) {
    // What came before the gap is delivered, then the loss is reported.
    if (gap_from > next) flush(gap_from);
    // The file is still being written, so its last record may be incomplete
    // (a read error past `until` is no loss); everything below `until` was
    // flushed before it reached memory.
    std::string why = t.ok() ? "not in it" : std::string(t.status().message());
    return grpc::Status(
        grpc::StatusCode::DATA_LOSS,
        absl::StrFormat("events %d..%d are no longer retained and missing from the trace file %s "
                        "(%s)",
                        gap_from, gap_to, options_.record_path, why));
  }
  flush(until);
  if (write_failed) return grpc::Status(grpc::StatusCode::CANCELLED, "");
  next = until;
  return grpc::Status::OK;
}

grpc::Status TraceServiceImpl::Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                                         grpc::ServerWriter<v1::EventBatch>* out) {
  if (grpc::Status s = CheckToken(ctx); !s.ok()) return s;
  for (uint32_t v : req->vcpus()) {
    if (v >= static_cast<uint32_t>(options_.num_vcpus)) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrFormat("vcpu %u does not exist (the VM has %d)", v, options_.num_vcpus));
    }
  }
  for (int k : req->kinds()) {
    if (v1::Event::GetDescriptor()->FindFieldByNumber(k) == nullptr ||
        v1::Event::GetDescriptor()->FindFieldByNumber(k)->containing_oneof() == nullptr) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrFormat("unknown event kind %d", k));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Each stream holds a thread: a bounded number at once.
    if (active_ >= options_.max_streams) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrFormat("%d streams are open already (the most this server "
                                          "serves at once); try again later",
                                          active_));
    }
    ++subscribers_seen_;
    ++active_;
    cv_.notify_all();
  }
  auto done = [this](grpc::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    --active_;
    last_completed_ = s.ok();
    cv_.notify_all();
    return s;
  };
  uint64_t next = req->from_sequence();
  size_t max =
      std::min<size_t>(req->max_batch() > 0 ? req->max_batch() : options_.max_batch, kMaxBatch);
  while (!ctx->IsCancelled()) {
    Retention::Slice s = retention_->Read(next, max, kPoll);
    if (next < s.retained_from) {
      if (options_.record_path.empty()) {
        return done(grpc::Status(
            grpc::StatusCode::DATA_LOSS,
            absl::StrFormat("events %d..%d are no longer retained (memory holds %d on) and no "
                            "trace is being recorded",
                            next, s.retained_from - 1, s.retained_from)));
      }
      if (grpc::Status st = StreamFromFile(ctx, *req, next, s.retained_from, out); !st.ok()) {
        return done(st);
      }
      continue;
    }
    v1::EventBatch batch;
    for (v1::Event& e : s.events) {
      if (Wanted(*req, e)) *batch.add_events() = std::move(e);
    }
    batch.set_next_sequence(s.next);
    bool progressed = s.next > next;
    next = s.next;
    if ((batch.events_size() > 0 || progressed) && !out->Write(batch)) {
      return done(grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away"));
    }
    if (s.ended) return done(grpc::Status::OK);
  }
  return done(grpc::Status(grpc::StatusCode::CANCELLED, "subscriber cancelled"));
}

grpc::Status TraceServiceImpl::GetSession(grpc::ServerContext* ctx, const v1::GetSessionRequest*,
                                          v1::Session* out) {
  if (grpc::Status s = CheckToken(ctx); !s.ok()) return s;
  *out->mutable_header() = header_;
  TracePipeline::Counters c = pipeline_->counters();
  out->set_events(c.events);
  for (const auto& [v, n] : c.per_vcpu) (*out->mutable_events_per_vcpu())[v] = n;
  for (const auto& [k, n] : c.per_kind) (*out->mutable_events_per_kind())[k] = n;
  out->set_running(running_.load());
  out->set_retained_from_sequence(retention_->retained_from());
  out->set_record_path(options_.record_path);
  if (std::optional<v1::TraceEnd> end = retention_->end()) *out->mutable_end() = *end;
  return grpc::Status::OK;
}

void TraceServiceImpl::WaitForSubscriber(const std::function<bool()>& give_up) {
  std::unique_lock<std::mutex> lock(mu_);
  while (subscribers_seen_ == 0 && !give_up()) cv_.wait_for(lock, kPoll);
}

void TraceServiceImpl::WaitForSubscribersDone(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [this] { return active_ == 0 && last_completed_; });
}

}  // namespace tlbscope
