// Subscribe against hostile conditions, in process (no KVM): a resume
// whose events are neither retained nor in the trace file is DATA_LOSS
// naming the range, never OK with events skipped; request fields a client
// controls are bounded.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tlbscope/v1/trace_service.grpc.pb.h"
#include "vmm/rpc/retention.h"
#include "vmm/rpc/trace_service.h"
#include "vmm/trace/recorder.h"
#include "vmm/trace/trace_reader.h"

namespace tlbscope {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kEvents = 1000;

std::vector<v1::Event> Events(uint64_t from, uint64_t to) {
  std::vector<v1::Event> out;
  for (uint64_t s = from; s < to; ++s) {
    v1::Event e;
    e.set_sequence(s);
    e.set_vcpu(static_cast<uint32_t>(s % 2));
    e.mutable_invlpg()->set_linear_address(0x1000 * s);
    out.push_back(e);
  }
  return out;
}

class SubscribeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/subscribe_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
            std::to_string(::getpid());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::remove(path_.c_str());
    std::remove((path_ + ".moved").c_str());
  }
  // Records events [0, file_to) (then the end) to the trace file, retains
  // the newest 100 of 1000 in memory, and serves them.
  void Serve(uint64_t file_to, int max_streams = 64, bool ended = true) {
    v1::TraceHeader header;
    header.set_schema_version(kTraceSchemaVersion);
    absl::StatusOr<std::unique_ptr<Recorder>> rec = Recorder::Create(path_, header);
    ASSERT_TRUE(rec.ok());
    (*rec)->OnEvents(Events(0, file_to));
    (*rec)->OnEnd(v1::TraceEnd());
    retention_ = std::make_unique<Retention>(100);
    retention_->OnEvents(Events(0, kEvents));
    v1::TraceEnd end;
    end.set_events(kEvents);
    if (ended) retention_->OnEnd(end);
    TraceServiceOptions o;
    o.record_path = path_;
    o.num_vcpus = 2;
    o.max_streams = max_streams;
    service_ = std::make_unique<TraceServiceImpl>(v1::TraceHeader(), retention_.get(), nullptr, o);
    grpc::ServerBuilder b;
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    stub_ = v1::TraceService::NewStub(server_->InProcessChannel({}));
  }
  // Reads a whole subscription: its status and every sequence received.
  grpc::Status Subscribe(const v1::SubscribeRequest& req, std::vector<uint64_t>* got) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto reader = stub_->Subscribe(&ctx, req);
    v1::EventBatch b;
    while (reader->Read(&b)) {
      for (const v1::Event& e : b.events()) got->push_back(e.sequence());
    }
    return reader->Finish();
  }
  std::string path_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<TraceServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::TraceService::Stub> stub_;
};

TEST_F(SubscribeTest, AResumeFromTheFileGetsEveryEvent) {
  Serve(kEvents);
  std::vector<uint64_t> got;
  grpc::Status s = Subscribe(v1::SubscribeRequest(), &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(got.size(), kEvents);
  for (uint64_t i = 0; i < kEvents; ++i) ASSERT_EQ(got[i], i);
}

TEST_F(SubscribeTest, AMovedTraceFileIsDataLossNamingTheRange) {
  Serve(kEvents);
  std::filesystem::rename(path_, path_ + ".moved");
  std::vector<uint64_t> got;
  v1::SubscribeRequest req;
  req.set_from_sequence(10);
  grpc::Status s = Subscribe(req, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(s.error_message(), HasSubstr("events 10..899 are no longer retained and missing "
                                           "from the trace file " +
                                           path_));
  EXPECT_TRUE(got.empty());
}

// Recording stopped at event 468 (a full disk): the resume delivers what
// the file has, then DATA_LOSS for the rest instead of skipping to 900.
TEST_F(SubscribeTest, ATraceFileCutShortIsDataLossNamingTheRange) {
  Serve(468);
  std::vector<uint64_t> got;
  grpc::Status s = Subscribe(v1::SubscribeRequest(), &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(s.error_message(), HasSubstr("events 468..899 are no longer retained"));
  ASSERT_EQ(got.size(), 468u);
  EXPECT_EQ(got.back(), 467u);
}

TEST_F(SubscribeTest, VcpusBeyondTheVmAreRefusedEvenAbove2To31) {
  Serve(kEvents);
  for (uint32_t v : {2u, 0x80000000u, 0xffffffffu}) {
    v1::SubscribeRequest req;
    req.add_vcpus(v);
    std::vector<uint64_t> got;
    grpc::Status s = Subscribe(req, &got);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << v;
    EXPECT_THAT(s.error_message(), HasSubstr("vcpu " + std::to_string(v) + " does not exist"));
  }
}

TEST_F(SubscribeTest, StreamsBeyondTheCapAreResourceExhausted) {
  Serve(kEvents, /*max_streams=*/1, /*ended=*/false);
  // One stream held open: a live subscription waiting for new events.
  grpc::ClientContext held;
  v1::SubscribeRequest from_end;
  from_end.set_from_sequence(kEvents);
  auto reader = stub_->Subscribe(&held, from_end);
  // Wait until the server counts it.
  for (int i = 0; i < 500; ++i) {
    std::vector<uint64_t> got;
    grpc::Status s = Subscribe(from_end, &got);
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      EXPECT_THAT(s.error_message(), HasSubstr("1 streams are open already"));
      held.TryCancel();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  held.TryCancel();
  FAIL() << "a second stream was served while the first was open";
}

}  // namespace
}  // namespace tlbscope
