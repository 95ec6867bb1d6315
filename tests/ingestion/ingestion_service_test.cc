// IngestionService as a real gRPC server on loopback over a real
// redis-server: PushEvents validates, appends the valid events and reports
// each rejected one; GetStatus reports the backlog.
#include "services/ingestion/ingestion_service.h"

#include <grpcpp/create_channel.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/common/grpc_server.h"
#include "services/ingestion/crm_event.h"
#include "services/ingestion/redis_stream_source.h"
#include "services/store/redis_url.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;

v1::CrmEvent Event(int i) {
  v1::CrmEvent e;
  e.set_event_id(absl::StrCat("e-", i));
  e.set_tenant_id("acme");
  e.set_opportunity_id(absl::StrCat("opp-", i));
  e.set_type(v1::OPPORTUNITY_DELETED);
  e.set_version(1);
  return e;
}

class IngestionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    RedisPool::Options po;
    po.endpoint = *ParseRedisUrl(redis_.url());
    po.min_backoff = absl::Milliseconds(5);
    pool_ = std::make_unique<RedisPool>(po);
    sink_ = std::make_unique<RedisStreamSink>(pool_.get(),
                                              RedisStreamSink::Options{});
    source_ = std::make_unique<RedisStreamSource>(
        pool_.get(), RedisStreamSource::Options{.consumer = "c"});
    pusher_ = std::make_unique<EventPusher>(sink_.get());
    service_ = std::make_unique<IngestionServiceImpl>(
        pusher_.get(), source_.get(), nullptr,
        IngestionServiceImpl::Identity{"oppmatrix:crm-events",
                                       "oppmatrix-ingestion", "c"});
    GrpcServer::Options options;
    options.listen = "127.0.0.1:0";
    auto server = GrpcServer::Start(options, {service_.get()}, {});
    ASSERT_TRUE(server.ok());
    server_ = *std::move(server);
    stub_ = v1::IngestionService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  grpc::Status Push(const std::vector<v1::PushEventsRequest>& messages,
                    v1::PushEventsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto writer = stub_->PushEvents(&context, response);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  testing::RedisServer redis_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<RedisStreamSink> sink_;
  std::unique_ptr<RedisStreamSource> source_;
  std::unique_ptr<EventPusher> pusher_;
  std::unique_ptr<IngestionServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::IngestionService::Stub> stub_;
};

TEST_F(IngestionServiceTest, AcceptsValidEventsAndSaysWhyOthersAreRejected) {
  v1::PushEventsRequest first, second;
  *first.add_events() = Event(0);
  v1::CrmEvent bad = Event(1);
  bad.set_version(0);
  bad.set_tenant_id("");
  *first.add_events() = bad;
  *second.add_events() = Event(2);
  v1::PushEventsResponse response;
  grpc::Status s = Push({first, second}, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.accepted(), 2);
  EXPECT_EQ(response.rejected(), 1);
  ASSERT_EQ(response.rejections_size(), 1);
  const v1::RejectedEvent& r = response.rejections(0);
  EXPECT_EQ(r.index(), 1);
  EXPECT_EQ(r.event_id(), "e-1");
  ASSERT_EQ(r.violations_size(), 2);
  EXPECT_EQ(r.violations(0).field(), "tenant_id");
  EXPECT_EQ(r.violations(1).field(), "version");

  // On the bus: the canonical JSON of each accepted event, in order.
  auto entries = redis_.Command({"XRANGE", "oppmatrix:crm-events", "-", "+"});
  ASSERT_EQ(entries->elements.size(), 2u);
  const std::string& json = entries->elements[1].elements[1].elements[1].str;
  auto parsed = ParseCrmEventJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->event_id(), "e-2");

  v1::GetStatusResponse status;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetStatus(&context, {}, &status).ok());
  EXPECT_EQ(status.lag(), 2);
  EXPECT_EQ(status.pushed(), 2);
  EXPECT_EQ(status.stream(), "oppmatrix:crm-events");
}

TEST_F(IngestionServiceTest, OversizedMessageIsInvalidArgument) {
  v1::PushEventsRequest big;
  for (int i = 0; i < kMaxEventsPerPush + 1; ++i) *big.add_events() = Event(i);
  v1::PushEventsResponse response;
  grpc::Status s = Push({big}, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("at most 1000 events"));
}

TEST_F(IngestionServiceTest, BusDownIsUnavailable) {
  redis_.Kill();
  v1::PushEventsRequest m;
  *m.add_events() = Event(0);
  v1::PushEventsResponse response;
  grpc::Status s = Push({m}, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("event bus is unavailable"));
  v1::GetStatusResponse status;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->GetStatus(&context, {}, &status).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace oppmatrix
