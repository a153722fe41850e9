// Remote subscribers: TraceService over gRPC against a running tlbscope.

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/run_helper.h"
#include "tlbscope/v1/trace_service.grpc.pb.h"
#include "vmm/trace/trace_reader.h"

namespace tlbscope::testing {
namespace {

using ::testing::HasSubstr;

struct Received {
  std::vector<v1::Event> events;
  grpc::Status status;
  uint64_t next = 0;
};

Received Subscribe(v1::TraceService::Stub& stub, const v1::SubscribeRequest& req,
                   const std::string& token = "", size_t stop_after = SIZE_MAX) {
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  Received r;
  r.next = req.from_sequence();
  auto reader = stub.Subscribe(&ctx, req);
  v1::EventBatch batch;
  while (reader->Read(&batch)) {
    for (const v1::Event& e : batch.events()) r.events.push_back(e);
    r.next = batch.next_sequence();
    if (r.events.size() >= stop_after) {
      ctx.TryCancel();
      break;
    }
  }
  r.status = reader->Finish();
  return r;
}

std::unique_ptr<v1::TraceService::Stub> Connect(const std::string& addr) {
  return v1::TraceService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
}

TEST(StreamTest, SubscriberGetsEveryEventExactlyOnceThenTheStreamEnds) {
  REQUIRE_KVM();
  std::string record = ::testing::TempDir() + "/stream_all.trace";
  BackgroundTlbscope t({"run", "--smp", "2", "--quiet", "--listen", "127.0.0.1:0",
                        "--wait-for-subscriber", "--record", record});
  std::string addr = t.WaitForLine("serving TraceService on ");
  auto stub = Connect(addr);
  // GetSession before anyone subscribed: the guest has not started.
  grpc::ClientContext ctx;
  v1::Session session;
  ASSERT_TRUE(stub->GetSession(&ctx, v1::GetSessionRequest(), &session).ok());
  EXPECT_EQ(session.header().vm().smp(), 2u);
  EXPECT_EQ(session.header().schema_version(), 1u);
  EXPECT_TRUE(session.running());
  EXPECT_EQ(session.events(), 0u) << "--wait-for-subscriber held the guest";

  Received r = Subscribe(*stub, v1::SubscribeRequest());
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(t.Wait(), 0) << t.err();
  ASSERT_FALSE(r.events.empty());
  for (size_t i = 0; i < r.events.size(); ++i) ASSERT_EQ(r.events[i].sequence(), i);
  // The same events the recorder wrote.
  absl::StatusOr<TraceSummary> file = ReadTrace(record, nullptr);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->events, r.events.size());
  std::set<int> kinds;
  for (const v1::Event& e : r.events) kinds.insert(e.kind_case());
  EXPECT_TRUE(kinds.contains(v1::Event::kCr3Write));
  EXPECT_TRUE(kinds.contains(v1::Event::kInvlpg));
  EXPECT_TRUE(kinds.contains(v1::Event::kVcpuState));
  ::unlink(record.c_str());
}

TEST(StreamTest, FiltersAndResumeFromTheLastSequenceSeen) {
  REQUIRE_KVM();
  BackgroundTlbscope t({"run", "--smp", "2", "--quiet", "--listen", "127.0.0.1:0",
                        "--wait-for-subscriber", "--linger", "20"});
  auto stub = Connect(t.WaitForLine("serving TraceService on "));
  v1::SubscribeRequest req;
  req.add_vcpus(1);
  req.add_kinds(v1::CR3_WRITE);
  req.set_max_batch(3);
  // Read a few, drop the connection, resume where we were.
  Received first = Subscribe(*stub, req, "", 3);
  ASSERT_GE(first.events.size(), 3u);
  req.set_from_sequence(first.next);
  Received rest = Subscribe(*stub, req);
  EXPECT_TRUE(rest.status.ok()) << rest.status.error_message();
  EXPECT_EQ(t.Wait(), 0) << t.err();
  std::vector<uint64_t> seqs;
  for (const Received* part : {&first, &rest}) {
    for (const v1::Event& e : part->events) {
      EXPECT_EQ(e.vcpu(), 1u);
      EXPECT_EQ(e.kind_case(), v1::Event::kCr3Write);
      seqs.push_back(e.sequence());
    }
  }
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  EXPECT_EQ(std::set<uint64_t>(seqs.begin(), seqs.end()).size(), seqs.size()) << "no repeats";
  EXPECT_EQ(seqs.size(), 16u) << "selftest: 16 CR3 writes on vcpu 1, each once";
}

TEST(StreamTest, LateSubscriberGetsHistoryFromTheFileOrDataLoss) {
  REQUIRE_KVM();
  std::string record = ::testing::TempDir() + "/stream_late.trace";
  for (bool recorded : {true, false}) {
    std::vector<std::string> args = {"run",
                                     "--smp",
                                     "2",
                                     "--quiet",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--wait-for-subscriber",
                                     "--retain",
                                     "5",
                                     "--linger",
                                     "3"};
    if (recorded) {
      args.push_back("--record");
      args.push_back(record);
    }
    BackgroundTlbscope t(args);
    auto stub = Connect(t.WaitForLine("serving TraceService on "));
    // A first subscriber starts the guest, reads a little and drops out (so
    // the server lingers for it to come back).
    Received starter = Subscribe(*stub, v1::SubscribeRequest(), "", 1);
    ASSERT_FALSE(starter.events.empty());
    v1::Session session;
    for (int i = 0; i < 200 && !session.has_end(); ++i) {
      grpc::ClientContext ctx;
      ASSERT_TRUE(stub->GetSession(&ctx, v1::GetSessionRequest(), &session).ok());
      if (!session.has_end()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(session.has_end()) << "the guest never finished";
    EXPECT_FALSE(session.running());
    EXPECT_GT(session.retained_from_sequence(), 0u);
    // Everything from 0, long after memory dropped it.
    Received late = Subscribe(*stub, v1::SubscribeRequest());
    if (recorded) {
      EXPECT_TRUE(late.status.ok())
          << late.status.error_code() << " " << late.status.error_message();
      ASSERT_EQ(late.events.size(), session.events());
      for (size_t i = 0; i < late.events.size(); ++i) EXPECT_EQ(late.events[i].sequence(), i);
    } else {
      EXPECT_EQ(late.status.error_code(), grpc::StatusCode::DATA_LOSS);
      EXPECT_THAT(late.status.error_message(), HasSubstr("events 0.."));
      EXPECT_THAT(late.status.error_message(), HasSubstr("are no longer retained"));
      EXPECT_TRUE(late.events.empty()) << "never a silent gap";
    }
    EXPECT_EQ(t.Wait(), 0) << t.err();
  }
  ::unlink(record.c_str());
}

TEST(StreamTest, AStalledSubscriberDoesNotHoldTheGuestBack) {
  REQUIRE_KVM();
  std::string record = ::testing::TempDir() + "/stream_stalled.trace";
  BackgroundTlbscope t({"run", "--smp", "2", "--quiet", "--listen", "127.0.0.1:0",
                        "--wait-for-subscriber", "--record", record, "--linger", "1"});
  std::string addr = t.WaitForLine("serving TraceService on ");
  auto stub = Connect(addr);
  grpc::ClientContext ctx;
  v1::SubscribeRequest req;
  req.set_max_batch(1);
  auto reader = stub->Subscribe(&ctx, req);
  v1::EventBatch batch;
  ASSERT_TRUE(reader->Read(&batch));  // the guest is running; now stop reading
  // The guest runs to its end while this subscriber reads nothing more.
  EXPECT_EQ(t.Wait(30), 0) << t.err();
  absl::StatusOr<TraceSummary> file = ReadTrace(record, nullptr);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(file->end.has_value());
  EXPECT_EQ(file->end->stop_reason(), "guest-exit");
  ctx.TryCancel();
  ::unlink(record.c_str());
}

TEST(StreamTest, TokenIsChecked) {
  REQUIRE_KVM();
  std::string token_file = ::testing::TempDir() + "/stream_token";
  std::ofstream(token_file) << "s3cret\n";
  BackgroundTlbscope t({"run", "--quiet", "--listen", "127.0.0.1:0", "--token-file", token_file,
                        "--wait-for-subscriber", "--linger", "5"});
  auto stub = Connect(t.WaitForLine("serving TraceService on "));
  for (const std::string& bad : {std::string(), std::string("wrong")}) {
    grpc::ClientContext ctx;
    if (!bad.empty()) ctx.AddMetadata("authorization", "Bearer " + bad);
    v1::Session s;
    EXPECT_EQ(stub->GetSession(&ctx, v1::GetSessionRequest(), &s).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Subscribe(*stub, v1::SubscribeRequest(), bad).status.error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  Received ok = Subscribe(*stub, v1::SubscribeRequest(), "s3cret");
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_FALSE(ok.events.empty());
  EXPECT_EQ(t.Wait(), 0) << t.err();
}

TEST(StreamTest, MalformedRequestsAreRejected) {
  REQUIRE_KVM();
  BackgroundTlbscope t(
      {"run", "--quiet", "--listen", "127.0.0.1:0", "--wait-for-subscriber", "--linger", "5"});
  auto stub = Connect(t.WaitForLine("serving TraceService on "));
  v1::SubscribeRequest bad_vcpu;
  bad_vcpu.add_vcpus(7);
  Received r = Subscribe(*stub, bad_vcpu);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("vcpu 7 does not exist"));
  v1::SubscribeRequest bad_kind;
  bad_kind.add_kinds(static_cast<v1::EventKind>(99));
  r = Subscribe(*stub, bad_kind);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("unknown event kind 99"));
  EXPECT_TRUE(Subscribe(*stub, v1::SubscribeRequest()).status.ok());
  EXPECT_EQ(t.Wait(), 0);
}

// grpc.health.v1 and server reflection, called with generic stubs (the
// client-side protos are not in Debian's packages): raw protobuf bytes.
TEST(StreamTest, HealthAndReflection) {
  REQUIRE_KVM();
  BackgroundTlbscope t(
      {"run", "--quiet", "--listen", "127.0.0.1:0", "--wait-for-subscriber", "--linger", "5"});
  std::string addr = t.WaitForLine("serving TraceService on ");
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  {
    grpc::ClientContext ctx;
    grpc::CompletionQueue cq;
    grpc::ByteBuffer req, resp;  // HealthCheckRequest{} is empty
    grpc::Slice empty;
    req = grpc::ByteBuffer(&empty, 1);
    auto call = generic.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", req, &cq);
    call->StartCall();
    grpc::Status st;
    call->Finish(&resp, &st, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_TRUE(st.ok()) << st.error_message();
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(resp.Dump(&slices).ok());
    std::string bytes;
    for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << "status: SERVING";
  }
  {
    grpc::ClientContext ctx;
    grpc::CompletionQueue cq;
    auto call = generic.PrepareCall(
        &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    void* tag;
    bool ok;
    call->StartCall(reinterpret_cast<void*>(1));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    std::string list = std::string("\x3a\x00", 2);  // list_services: ""
    grpc::Slice s(list);
    grpc::ByteBuffer req(&s, 1);
    call->Write(req, reinterpret_cast<void*>(2));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    grpc::ByteBuffer resp;
    call->Read(&resp, reinterpret_cast<void*>(3));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(resp.Dump(&slices).ok());
    std::string bytes;
    for (auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    EXPECT_THAT(bytes, HasSubstr("tlbscope.v1.TraceService"));
    EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
    ctx.TryCancel();
    grpc::Status st;
    call->Finish(&st, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
  }
  auto stub = v1::TraceService::NewStub(channel);
  EXPECT_TRUE(Subscribe(*stub, v1::SubscribeRequest()).status.ok());
  EXPECT_EQ(t.Wait(), 0);
}

TEST(StreamTest, NonLoopbackNeedsTlsAndToken) {
  ProcResult r = RunTlbscope({"run", "--listen", "0.0.0.0:0"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--listen 0.0.0.0:0 is not a loopback address: --tls-cert, "
                               "--tls-key and --token-file are required"));
  r = RunTlbscope({"run", "--listen", "nonsense:port"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("is not HOST:PORT"));
  r = RunTlbscope({"run", "--wait-for-subscriber"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--wait-for-subscriber needs --listen"));
}

TEST(StreamTest, TlsOffLoopbackWithToken) {
  REQUIRE_KVM();
  TestTls tls;
  ASSERT_TRUE(MakeTestTls(::testing::TempDir() + "/stream_tls", &tls))
      << "openssl could not make a test certificate";
  const std::string &key = tls.key, &cert = tls.cert, &token = tls.token;
  BackgroundTlbscope t({"run", "--quiet", "--listen", "0.0.0.0:0", "--tls-cert", cert, "--tls-key",
                        key, "--token-file", token, "--wait-for-subscriber", "--linger", "5"});
  std::string addr = t.WaitForLine("serving TraceService on ");
  std::string port = addr.substr(addr.rfind(':') + 1);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(cert);
  auto stub = v1::TraceService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + port, grpc::SslCredentials(ssl)));
  EXPECT_EQ(Subscribe(*stub, v1::SubscribeRequest(), "nope").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  Received ok = Subscribe(*stub, v1::SubscribeRequest(), "tls-token");
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_FALSE(ok.events.empty());
  EXPECT_EQ(t.Wait(), 0) << t.err();
  // A plaintext client gets nowhere.
}

}  // namespace
}  // namespace tlbscope::testing
