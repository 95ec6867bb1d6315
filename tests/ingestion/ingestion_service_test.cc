// IngestionService as a real gRPC server on loopback over a real
// redis-server: PushEvents validates, appends the valid events and reports
// each rejected one; GetStatus reports the backlog.
#include "services/ingestion/ingestion_service.h"

#include <grpcpp/create_channel.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/common/grpc_server.h"
#include "services/common/grpc_status.h"
#include "services/common/status_util.h"
#include "services/engine/opportunity_validator.h"
#include "services/ingestion/crm_event.h"
#include "services/ingestion/redis_stream_source.h"
#include "services/store/async_redis.h"
#include "services/store/redis_url.h"
#include "tests/testing/raw_call.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;
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
    // As main wires it: the RPCs on an asynchronous connection, the
    // blocking reads on one of their own.
    async_ = testing::TestRedisClient(redis_.url(), absl::Milliseconds(500),
                                      absl::Milliseconds(5));
    reads_ = testing::TestRedisClient(redis_.url());
    sink_ = std::make_unique<RedisStreamSink>(async_.get(),
                                              RedisStreamSink::Options{});
    source_ = std::make_unique<RedisStreamSource>(
        async_.get(), reads_.get(),
        RedisStreamSource::Options{.consumer = "c"});
    pusher_ = std::make_unique<EventPusher>(sink_.get());
    dead_letters_ = std::make_unique<DeadLetterQueue>(
        async_.get(), DeadLetterQueue::Options{});
    service_ = std::make_unique<IngestionServiceImpl>(
        pusher_.get(), source_.get(), nullptr, dead_letters_.get(),
        IngestionServiceImpl::Identity{"oppmatrix:crm-events",
                                       "oppmatrix-ingestion", "c"});
    GrpcServer::Options options;
    options.listen = "127.0.0.1:0";
    auto server = GrpcServer::Start(options, {service_.get()}, {});
    ASSERT_TRUE(server.ok());
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::IngestionService::NewStub(channel_);
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

  std::vector<std::string> BusEventIds() {
    std::vector<std::string> ids;
    auto entries = redis_.Command({"XRANGE", "oppmatrix:crm-events", "-", "+"});
    for (const RedisReply& e : entries->elements) {
      auto parsed = ParseCrmEventJson(e.elements[1].elements[1].str);
      ids.push_back(parsed.ok() ? parsed->event_id() : "?");
    }
    return ids;
  }

  testing::RedisServer redis_;
  std::unique_ptr<AsyncRedis> async_;
  std::unique_ptr<AsyncRedis> reads_;
  std::unique_ptr<RedisStreamSink> sink_;
  std::unique_ptr<RedisStreamSource> source_;
  std::unique_ptr<EventPusher> pusher_;
  std::unique_ptr<DeadLetterQueue> dead_letters_;
  std::unique_ptr<IngestionServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
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

std::string Message(int first, int count) {
  v1::PushEventsRequest m;
  for (int i = first; i < first + count; ++i) *m.add_events() = Event(i);
  return m.SerializeAsString();
}

// [3 valid] [garbage] [3 valid] used to end OK with accepted=3, the last
// three never on the bus.
TEST_F(IngestionServiceTest, UndecodableMessageIsRejectedAndTheStreamGoesOn) {
  std::vector<std::string> replies;
  grpc::Status s = testing::RawCall(
      channel_, "/oppmatrix.v1.IngestionService/PushEvents",
      {Message(0, 3), std::string("\x0a\x7f\x01", 3), Message(3, 3)}, &replies);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(replies.size(), 1u);
  v1::PushEventsResponse response;
  ASSERT_TRUE(response.ParseFromString(replies[0]));
  EXPECT_EQ(response.accepted(), 6);
  EXPECT_EQ(response.rejected(), 1);
  ASSERT_EQ(response.rejections_size(), 1);
  EXPECT_EQ(response.rejections(0).index(), 3);
  ASSERT_EQ(response.rejections(0).violations_size(), 1);
  EXPECT_THAT(response.rejections(0).violations(0).description(),
              HasSubstr("the rest of message 1 is not a valid "
                        "oppmatrix.v1.CrmEvent"));
  EXPECT_THAT(BusEventIds(),
              ElementsAre("e-0", "e-1", "e-2", "e-3", "e-4", "e-5"));
}

// One event of a message is not UTF-8: the others are pushed, in order, and
// the refusal names the field at the event's index.
TEST_F(IngestionServiceTest, EventWithInvalidUtf8IsRejectedByItsField) {
  v1::PushEventsRequest m;
  *m.add_events() = Event(0);
  *m.add_events() = Event(1);
  m.mutable_events(1)->set_opportunity_id("PLACEHOLDER");
  *m.add_events() = Event(2);
  std::string bytes = m.SerializeAsString();
  size_t at = bytes.find("PLACEHOLDER");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = '\xc3';  // a lead byte without its continuation
  std::vector<std::string> replies;
  grpc::Status s = testing::RawCall(
      channel_, "/oppmatrix.v1.IngestionService/PushEvents", {bytes}, &replies);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::PushEventsResponse response;
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(response.ParseFromString(replies[0]));
  EXPECT_EQ(response.accepted(), 2);
  ASSERT_EQ(response.rejections_size(), 1);
  EXPECT_EQ(response.rejections(0).index(), 1);
  EXPECT_EQ(response.rejections(0).violations(0).field(), "opportunity_id");
  EXPECT_EQ(response.rejections(0).violations(0).description(),
            "is not valid UTF-8");
  EXPECT_THAT(BusEventIds(), ElementsAre("e-0", "e-2"));
}

// Each field within its own limit, the whole over the bus's 64 KiB: the
// pipeline would dead-letter it, so PushEvents refuses it.
TEST_F(IngestionServiceTest, EventOverTheBusLimitAsJsonIsRejected) {
  v1::CrmEvent big = Event(1);
  big.set_type(v1::OPPORTUNITY_UPSERTED);
  v1::Opportunity* o = big.mutable_opportunity();
  o->set_id("opp-1");
  o->set_tenant_id("acme");
  o->set_version(1);
  for (int i = 0; i < 10; ++i) {
    (*o->mutable_attributes())[absl::StrCat("note-", i)] =
        std::string(kMaxAttributeValueBytes - 100, 'x');
  }
  std::vector<FieldViolation> v;
  ValidateCrmEvent(big, "", v);
  ASSERT_TRUE(v.empty()) << v[0].field() << ": " << v[0].description();
  v1::PushEventsRequest m;
  *m.add_events() = Event(0);
  *m.add_events() = big;
  v1::PushEventsResponse response;
  ASSERT_TRUE(Push({m}, &response).ok());
  EXPECT_EQ(response.accepted(), 1);
  ASSERT_EQ(response.rejections_size(), 1);
  EXPECT_EQ(response.rejections(0).index(), 1);
  EXPECT_THAT(response.rejections(0).violations(0).description(),
              HasSubstr("bytes as JSON, more than the bus's limit of 65536"));
  EXPECT_THAT(BusEventIds(), ElementsAre("e-0"));
}

TEST_F(IngestionServiceTest, UndecodableGetStatusIsInvalidArgument) {
  std::vector<std::string> replies;
  grpc::Status s =
      testing::RawCall(channel_, "/oppmatrix.v1.IngestionService/GetStatus",
                       {std::string("\x0a\x7f", 2)}, &replies);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("the request is not a valid "
                                           "oppmatrix.v1.GetStatusRequest"));
}

TEST_F(IngestionServiceTest, BusDownIsUnavailable) {
  redis_.Kill();
  v1::PushEventsRequest m;
  *m.add_events() = Event(0);
  v1::PushEventsResponse response;
  grpc::Status s = Push({m}, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("event bus is unavailable"));
  // The cause (the Redis address, hiredis's text) is in the log, not here.
  EXPECT_THAT(s.error_message(),
              ::testing::MatchesRegex(".*\\(log id [0-9a-f]{16}\\)"));
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("127.0.0.1")));
  v1::GetStatusResponse status;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->GetStatus(&context, {}, &status).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// Dead letters as the pipeline writes them (through the source's script).
void DeadLetterSome(RedisStreamSource& source, int n) {
  for (int i = 0; i < n; ++i) {
    BusEvent e;
    e.id = absl::StrCat("17000000000", i, "-0");
    e.payload = i % 4 == 3 ? "" : absl::StrCat(R"({"eventId":"e-)", i, R"("})");
    e.deliveries = 1 + i % 2;
    ASSERT_TRUE(
        source
            .DeadLetter(e, i % 2 == 0
                               ? absl::StrCat("invalid: version: got ", -i)
                               : "unparseable: not JSON")
            .ok());
  }
}

TEST_F(IngestionServiceTest, DeadLettersAreListedInPages) {
  DeadLetterSome(*source_, 7);
  std::vector<v1::DeadLetter> all;
  std::string token;
  int pages = 0;
  do {
    v1::ListDeadLettersRequest request;
    request.set_page_size(3);
    request.set_page_token(token);
    v1::ListDeadLettersResponse response;
    grpc::ClientContext context;
    grpc::Status s = stub_->ListDeadLetters(&context, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const v1::DeadLetter& d : response.dead_letters()) all.push_back(d);
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[0].event(), R"({"eventId":"e-0"})");
  EXPECT_EQ(all[0].reason(), "invalid: version: got 0");
  EXPECT_EQ(all[0].source_stream(), "oppmatrix:crm-events");
  EXPECT_EQ(all[0].source_id(), "170000000000-0");
  EXPECT_EQ(all[1].deliveries(), 2);
  EXPECT_GT(all[0].time().seconds(), 0);
  EXPECT_EQ(all[3].event(), "");
}

TEST_F(IngestionServiceTest, DeadLettersAreSummarizedByReason) {
  DeadLetterSome(*source_, 9);
  v1::SummarizeDeadLettersRequest request;
  v1::SummarizeDeadLettersResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->SummarizeDeadLetters(&context, request, &response).ok());
  }
  EXPECT_EQ(response.entries(), 9);
  EXPECT_FALSE(response.truncated());
  ASSERT_EQ(response.groups_size(), 2);
  EXPECT_EQ(response.groups(0).reason(), "invalid: version: got N");
  EXPECT_EQ(response.groups(0).count(), 5);
  EXPECT_EQ(response.groups(0).example_event_id(), "e-0");
  request.set_max_entries(4);
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->SummarizeDeadLetters(&context, request, &response).ok());
  EXPECT_EQ(response.entries(), 4);
  EXPECT_TRUE(response.truncated());
}

TEST_F(IngestionServiceTest, DeadLettersAreReplayedByIdOrAll) {
  DeadLetterSome(*source_, 8);
  auto list = [this] {
    v1::ListDeadLettersRequest request;
    request.set_page_size(500);
    v1::ListDeadLettersResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->ListDeadLetters(&context, request, &response).ok());
    return response;
  };
  v1::ListDeadLettersResponse before = list();
  v1::ReplayDeadLettersRequest one;
  one.add_ids(before.dead_letters(0).id());
  v1::ReplayDeadLettersResponse replayed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ReplayDeadLetters(&context, one, &replayed).ok());
  }
  EXPECT_EQ(replayed.replayed(), 1);
  EXPECT_EQ(replayed.stream(), "oppmatrix:crm-events");
  EXPECT_EQ(list().dead_letters_size(), 7);
  v1::ReplayDeadLettersRequest all;
  all.set_all(true);
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ReplayDeadLetters(&context, all, &replayed).ok());
  }
  // Entries 3 and 7 have no event: they stay.
  EXPECT_EQ(replayed.requested(), 7);
  EXPECT_EQ(replayed.replayed(), 5);
  EXPECT_EQ(list().dead_letters_size(), 2);
  EXPECT_THAT(BusEventIds(),
              ElementsAre("e-0", "e-1", "e-2", "e-4", "e-5", "e-6"));
}

// Raw bus writers can put events of any size on the bus: a listed page
// stays bounded (64 KiB per event, 2 MiB per page, within a client's
// default 4 MiB) and goes on with a token.
TEST_F(IngestionServiceTest, ListedDeadLettersAreBoundedInSize) {
  for (int i = 0; i < 70; ++i) {
    BusEvent e;
    e.id = absl::StrCat("1700000000000-", i);
    e.payload = std::string(100 << 10, 'x');
    ASSERT_TRUE(source_->DeadLetter(e, "unparseable: huge").ok());
  }
  v1::ListDeadLettersRequest request;
  request.set_page_size(500);
  v1::ListDeadLettersResponse page;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListDeadLetters(&context, request, &page).ok());
  EXPECT_EQ(page.dead_letters_size(), 32);
  EXPECT_FALSE(page.next_page_token().empty());
  EXPECT_EQ(page.dead_letters(0).event().size(), 64u << 10);
  EXPECT_TRUE(page.dead_letters(0).event_truncated());
  request.set_page_token(page.next_page_token());
  grpc::ClientContext next;
  ASSERT_TRUE(stub_->ListDeadLetters(&next, request, &page).ok());
  EXPECT_EQ(page.dead_letters_size(), 32);
  request.set_page_token(page.next_page_token());
  grpc::ClientContext last;
  ASSERT_TRUE(stub_->ListDeadLetters(&last, request, &page).ok());
  EXPECT_EQ(page.dead_letters_size(), 6);
  EXPECT_TRUE(page.next_page_token().empty());
}

// A replay puts an entry back once, however often it is asked for, and
// replaying everything ends even when the events fail again at once.
TEST_F(IngestionServiceTest, ReplayIsOncePerEntryAndEnds) {
  DeadLetterSome(*source_, 2);
  v1::ListDeadLettersRequest list;
  v1::ListDeadLettersResponse page;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListDeadLetters(&context, list, &page).ok());
  }
  v1::ReplayDeadLettersRequest twice;
  twice.add_ids(page.dead_letters(0).id());
  twice.add_ids(page.dead_letters(0).id());
  v1::ReplayDeadLettersResponse replayed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ReplayDeadLetters(&context, twice, &replayed).ok());
  }
  EXPECT_EQ(replayed.replayed(), 1);
  EXPECT_EQ(BusEventIds().size(), 1u);
  {
    auto taken = source_->Read(10, absl::Milliseconds(1));
    ASSERT_TRUE(taken.ok());
    ASSERT_EQ(taken->size(), 1u);
    ASSERT_TRUE(source_->Ack({(*taken)[0].id}).ok());
  }
  // Each replayed event is dead-lettered again at once (as a pipeline
  // would, for an event that fails again): `all` still ends, at the
  // entries there were when it began.
  std::atomic<bool> stop{false};
  std::thread refailer([&] {
    while (!stop.load()) {
      auto events = source_->Read(10, absl::Milliseconds(5));
      if (!events.ok()) continue;
      for (const BusEvent& e : *events) {
        (void)source_->DeadLetter(e, "invalid: fails again");
      }
    }
  });
  for (int i = 0; i < 600; ++i) {
    BusEvent e;
    e.id = absl::StrCat("1700000000001-", i);
    e.payload = absl::StrCat(R"({"eventId":"r-)", i, R"("})");
    ASSERT_TRUE(source_->DeadLetter(e, "invalid: once").ok());
  }
  v1::ReplayDeadLettersRequest all;
  all.set_all(true);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  grpc::Status s = stub_->ReplayDeadLetters(&context, all, &replayed);
  stop = true;
  refailer.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(replayed.requested(), 601);
}

// A binary event's content type stays with it: listed, and back on the
// bus with it when replayed.
TEST_F(IngestionServiceTest, ABinaryDeadLetterKeepsItsContentType) {
  BusEvent e;
  e.id = "1700000000000-0";
  e.payload = Event(1).SerializeAsString();
  e.content_type = "application/x-protobuf";
  ASSERT_TRUE(source_->DeadLetter(e, "classifier refused: x").ok());
  v1::ListDeadLettersResponse page;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListDeadLetters(&context, {}, &page).ok());
  }
  ASSERT_EQ(page.dead_letters_size(), 1);
  EXPECT_EQ(page.dead_letters(0).content_type(), "application/x-protobuf");
  EXPECT_EQ(page.dead_letters(0).event(), e.payload);
  v1::ReplayDeadLettersRequest replay;
  replay.add_ids(page.dead_letters(0).id());
  v1::ReplayDeadLettersResponse replayed;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ReplayDeadLetters(&context, replay, &replayed).ok());
  EXPECT_EQ(replayed.replayed(), 1);
  auto back = source_->Read(10, absl::Milliseconds(1));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].payload, e.payload);
  EXPECT_EQ((*back)[0].content_type, "application/x-protobuf");
}

TEST_F(IngestionServiceTest, BadDeadLetterRequestsNameTheirField) {
  auto violation_field = [](const grpc::Status& s) {
    std::vector<FieldViolation> v = GetFieldViolations(FromGrpcStatus(s));
    return v.empty() ? std::string("(none)") : v[0].field();
  };
  for (const std::string& token :
       {std::string("0-0\x01"), std::string("nan"), std::string("5 "),
        std::string("-"), std::string("+"), std::string("(1-0"),
        std::string(" 5-0"), std::string("+5-0"), std::string("1-2-3")}) {
    v1::ListDeadLettersRequest request;
    request.set_page_token(token);
    v1::ListDeadLettersResponse response;
    grpc::ClientContext context;
    grpc::Status s = stub_->ListDeadLetters(&context, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << token;
    EXPECT_EQ(violation_field(s), "page_token") << token;
  }
  v1::ReplayDeadLettersRequest replay;
  replay.add_ids("1-0");
  replay.add_ids("nope");
  v1::ReplayDeadLettersResponse replayed;
  {
    grpc::ClientContext context;
    grpc::Status s = stub_->ReplayDeadLetters(&context, replay, &replayed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(violation_field(s), "ids[1]");
  }
  replay.clear_ids();
  replay.add_ids("1-0");  // well formed, not there
  {
    grpc::ClientContext context;
    grpc::Status s = stub_->ReplayDeadLetters(&context, replay, &replayed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(s.error_message(), HasSubstr("no dead letter 1-0"));
  }
  replay.set_all(true);
  {
    grpc::ClientContext context;
    grpc::Status s = stub_->ReplayDeadLetters(&context, replay, &replayed);
    EXPECT_EQ(violation_field(s), "ids");
  }
  v1::SummarizeDeadLettersRequest summary;
  summary.set_max_entries(-1);
  v1::SummarizeDeadLettersResponse summarized;
  grpc::ClientContext context;
  grpc::Status s = stub_->SummarizeDeadLetters(&context, summary, &summarized);
  EXPECT_EQ(violation_field(s), "max_entries");
}

// Issue 13: with Redis frozen (SIGSTOP), 40 GetStatus calls and 40
// PushEvents streams at once each answer within their bound, and the
// health check answers meanwhile: no gRPC thread waits on Redis.
TEST_F(IngestionServiceTest, AFrozenRedisHoldsNoThread) {
  v1::GetStatusResponse warm;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetStatus(&context, {}, &warm).ok());
  }
  redis_.Pause();
  constexpr int kEach = 40;
  struct Call {
    grpc::ClientContext context;
    v1::GetStatusRequest request;
    v1::GetStatusResponse status;
    v1::PushEventsResponse pushed;
    grpc::Status result;
    absl::Time deadline;
    absl::Time answered;
  };
  std::vector<Call> calls(2 * kEach);
  absl::Mutex mu;
  int done = 0;
  auto finish = [&mu, &done](Call& c) {
    return [&mu, &done, &c](grpc::Status s) {
      absl::MutexLock lock(&mu);
      c.result = std::move(s);
      c.answered = absl::Now();
      ++done;
    };
  };
  v1::PushEventsRequest message;
  *message.add_events() = Event(1);
  // A client-streaming call from the callback API: write one message,
  // half-close, get the answer.
  class Pusher : public grpc::ClientWriteReactor<v1::PushEventsRequest> {
   public:
    Pusher(v1::IngestionService::Stub* stub, Call* call,
           const v1::PushEventsRequest* m,
           std::function<void(grpc::Status)> done)
        : done_(std::move(done)) {
      stub->async()->PushEvents(&call->context, &call->pushed, this);
      StartWriteLast(m, {});
      StartCall();
    }
    void OnDone(const grpc::Status& s) override {
      done_(s);
      delete this;
    }

   private:
    std::function<void(grpc::Status)> done_;
  };
  for (int i = 0; i < kEach; ++i) {
    Call& status = calls[2 * i];
    status.deadline = absl::Now() + absl::Milliseconds(800);
    status.context.set_deadline(absl::ToChronoTime(status.deadline));
    stub_->async()->GetStatus(&status.context, &status.request, &status.status,
                              finish(status));
    Call& push = calls[2 * i + 1];
    push.deadline = absl::Now() + absl::Milliseconds(800);
    push.context.set_deadline(absl::ToChronoTime(push.deadline));
    new Pusher(stub_.get(), &push, &message, finish(push));
  }
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse serving;
  grpc::ClientContext health_context;
  health_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  EXPECT_TRUE(health->Check(&health_context, check, &serving).ok());
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(
                                +[](int* n) { return *n == 2 * kEach; }, &done),
                            absl::Seconds(30)));
  }
  for (const Call& c : calls) {
    EXPECT_LE(c.answered, c.deadline + absl::Seconds(1));
    EXPECT_THAT(c.result.error_code(),
                ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE,
                                 grpc::StatusCode::DEADLINE_EXCEEDED))
        << c.result.error_message();
  }
  redis_.Resume();
}

}  // namespace
}  // namespace oppmatrix
