#include "collectors/live_source.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "common/bounded_read.h"
#include "tlbscope/v1/trace_service.grpc.pb.h"

namespace tlbscope::collect {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const char* flag, const std::string& path) {
  return ReadBoundedFile(flag, path, kMaxSmallFileBytes);
}

absl::Status FromGrpc(const std::string& addr, const grpc::Status& s, const char* what) {
  std::string msg = absl::StrFormat("%s %s: %s (%d)", what, addr, s.error_message(),
                                    static_cast<int>(s.error_code()));
  switch (s.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::UnauthenticatedError(
          absl::StrFormat("%s refused the token: %s", addr, s.error_message()));
    case grpc::StatusCode::DATA_LOSS:
      return absl::DataLossError(msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::UnavailableError(msg);
    default:
      return absl::UnknownError(msg);
  }
}

}  // namespace

std::string NormalizeAddress(const std::string& addr) {
  if (addr.empty()) return addr;
  if (addr[0] == ':') return "127.0.0.1" + addr;
  if (addr.find(':') == std::string::npos) return "127.0.0.1:" + addr;
  return addr;
}

namespace {

// The channel's credentials: TLS with --tls-ca, else plaintext.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const LiveOptions& o) {
  if (o.tls_ca.empty()) return grpc::InsecureChannelCredentials();
  absl::StatusOr<std::string> ca = ReadWholeFile("--tls-ca", o.tls_ca);
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *ca;
  return grpc::SslCredentials(ssl);
}

std::chrono::system_clock::time_point In(double s) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

}  // namespace

absl::Status Live(const LiveOptions& o, Collector& c, const std::function<void()>& tick) {
  std::string addr = NormalizeAddress(o.address);
  std::string token;
  if (!o.token_file.empty()) {
    absl::StatusOr<std::string> t = ReadTokenFile("--token-file", o.token_file);
    if (!t.ok()) return t.status();
    token = *t;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = Credentials(o);
  if (!creds.ok()) return creds.status();
  auto channel = grpc::CreateChannel(addr, *creds);
  if (!channel->WaitForConnected(In(o.connect_timeout_s))) {
    return absl::UnavailableError(absl::StrFormat(
        "cannot reach %s: no TraceService connection within %g s", addr, o.connect_timeout_s));
  }
  auto stub = v1::TraceService::NewStub(channel);
  auto with_token = [&](grpc::ClientContext& ctx) {
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  };
  {
    grpc::ClientContext ctx;
    with_token(ctx);
    ctx.set_deadline(In(o.connect_timeout_s + 5));
    v1::Session session;
    grpc::Status s = stub->GetSession(&ctx, v1::GetSessionRequest(), &session);
    if (!s.ok()) return FromGrpc(addr, s, "GetSession on");
    c.SetHeader(session.header());
  }
  uint64_t next = 0;
  int reconnects = 0;
  for (;;) {
    grpc::ClientContext ctx;
    with_token(ctx);
    v1::SubscribeRequest req;
    req.set_from_sequence(next);
    auto reader = stub->Subscribe(&ctx, req);
    v1::EventBatch batch;
    bool progressed = false;
    while (reader->Read(&batch)) {
      for (const v1::Event& e : batch.events()) c.Observe(e);
      if (batch.next_sequence() > next) progressed = true;
      next = std::max<uint64_t>(next, batch.next_sequence());
      if (tick) tick();
    }
    grpc::Status s = reader->Finish();
    if (s.ok()) break;
    bool retry = (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                  s.error_code() == grpc::StatusCode::CANCELLED) &&
                 reconnects < o.max_reconnects;
    if (!retry) {
      c.Finish(false);
      return FromGrpc(addr, s, "Subscribe to");
    }
    reconnects = progressed ? 0 : reconnects + 1;
    if (!channel->WaitForConnected(In(o.connect_timeout_s))) {
      c.Finish(false);
      return absl::UnavailableError(
          absl::StrFormat("lost %s after %d events and could not reconnect within %g s", addr, next,
                          o.connect_timeout_s));
    }
  }
  // The stream ended: the guest stopped and every event was sent.
  grpc::ClientContext ctx;
  with_token(ctx);
  ctx.set_deadline(In(5));
  v1::Session session;
  if (stub->GetSession(&ctx, v1::GetSessionRequest(), &session).ok() && session.has_end()) {
    c.SetEnd(session.end());
  }
  c.Finish(true);
  return absl::OkStatus();
}

}  // namespace tlbscope::collect
