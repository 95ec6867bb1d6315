// The C++ client library against a real in-process classifier, and against
// small fake servers for its retry policy and deadlines.
#include "clients/cpp/classification_client.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/status_util.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_url.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using testing::TestClassifier;

v1::Opportunity Opp(const std::string& id) {
  v1::Opportunity o;
  o.set_id(id);
  o.set_tenant_id("acme");
  o.set_stage("Proposal/Price Quote");
  o.mutable_amount()->set_currency_code("USD");
  o.mutable_amount()->set_units(250000);
  o.mutable_account()->set_employees(800);
  return o;
}

std::unique_ptr<ClassificationClient> ClientFor(const std::string& target,
                                                ClientOptions options = {}) {
  options.target = target;
  auto client = ClassificationClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

TEST(ClassificationClientTest, TheExampleProgramRuns) {
  TestClassifier server;
  testing::Subprocess example({OPPMATRIX_BINARY_DIR
                               "/clients/examples/classify_example",
                               server.target()});
  ASSERT_EQ(example.Wait(absl::Seconds(30)), 0) << example.Stderr();
  EXPECT_THAT(example.Stdout(), ::testing::StartsWith("opp-1001: "));
  EXPECT_THAT(example.Stdout(), ::testing::HasSubstr("(grade GRADE_"));
}

TEST(ClassificationClientTest, ClassifiesOne) {
  TestClassifier server;
  auto client = ClientFor(server.target());
  absl::StatusOr<v1::Classification> c = client->Classify(Opp("o-1"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->opportunity_id(), "o-1");
  EXPECT_EQ(c->buying_stage(), v1::BUYING_STAGE_DECISION);
  EXPECT_EQ(c->customer_type(), v1::CUSTOMER_TYPE_SME);
  EXPECT_FALSE(c->reasons().empty());
  absl::StatusOr<v1::Classification> bare =
      client->Classify(Opp("o-1"), /*with_reasons=*/false);
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->reasons().empty());
}

TEST(ClassificationClientTest, StoredResultsAndTheReadModel) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  std::unique_ptr<AsyncRedis> redis_client =
      testing::TestRedisClient(redis.url());
  RedisResultStore store(redis_client.get(), {});
  TestClassifier server(1000, &store);
  auto client = ClientFor(server.target());

  v1::ClassifyRequest request;
  *request.mutable_opportunity() = Opp("o-1");
  absl::StatusOr<v1::ClassifyResponse> first = client->Classify(request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->stored());
  EXPECT_FALSE(first->cached());
  absl::StatusOr<v1::ClassifyResponse> again = client->Classify(request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->cached());

  absl::StatusOr<v1::Classification> got =
      client->GetClassification("acme", "o-1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->cell(), first->classification().cell());
  EXPECT_EQ(client->GetClassification("acme", "o-2").status().code(),
            absl::StatusCode::kNotFound);

  v1::GetMatrixRequest matrix;
  matrix.set_tenant_id("acme");
  matrix.set_top_n(1);
  absl::StatusOr<v1::GetMatrixResponse> m = client->GetMatrix(matrix);
  ASSERT_TRUE(m.ok()) << m.status();
  int64_t count = 0;
  for (const auto& cell : m->cells()) count += cell.count();
  EXPECT_EQ(count, 1);

  v1::ListOpportunitiesRequest list;
  list.set_tenant_id("acme");
  list.set_cell(got->cell());
  absl::StatusOr<v1::ListOpportunitiesResponse> page =
      client->ListOpportunities(list);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->classifications_size(), 1);
  EXPECT_EQ(page->classifications(0).opportunity_id(), "o-1");

  v1::ListTransitionsRequest transitions;
  transitions.set_tenant_id("acme");
  absl::StatusOr<v1::ListTransitionsResponse> moves =
      client->ListTransitions(transitions);
  ASSERT_TRUE(moves.ok()) << moves.status();
  EXPECT_EQ(moves->transitions_size(), 0);
}

TEST(ClassificationClientTest, InvalidArgumentKeepsTheFieldViolations) {
  TestClassifier server;
  auto client = ClientFor(server.target());
  v1::Opportunity bad = Opp("");
  bad.mutable_amount()->set_units(-3);
  absl::StatusOr<v1::Classification> c = client->Classify(bad);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const auto& v : GetFieldViolations(c.status())) {
    fields.push_back(v.field());
  }
  EXPECT_THAT(fields,
              ElementsAre("opportunity.id", "opportunity.amount.units"));
}

TEST(ClassificationClientTest, BatchAndStream) {
  TestClassifier server;
  auto client = ClientFor(server.target());
  absl::StatusOr<std::vector<v1::ClassifyResult>> results =
      client->BatchClassify({Opp("a"), Opp(""), Opp("c")});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_THAT(*results, SizeIs(3));
  EXPECT_EQ((*results)[0].classification().opportunity_id(), "a");
  EXPECT_EQ((*results)[1].status().code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ((*results)[2].classification().opportunity_id(), "c");

  auto stream = client->OpenStream(absl::Seconds(30));
  for (const char* id : {"s1", "s2"}) {
    v1::ClassifyRequest request;
    *request.mutable_opportunity() = Opp(id);
    ASSERT_TRUE(stream->Write(request));
    v1::ClassifyResult result;
    ASSERT_TRUE(stream->Read(&result));
    EXPECT_EQ(result.classification().opportunity_id(), id);
  }
  EXPECT_TRUE(stream->Finish().ok());
}

// Fails the first `failures` Classify calls with UNAVAILABLE; with
// `hang` set, never answers until the call is cancelled.
class FakeService final : public v1::ClassificationService::CallbackService {
 public:
  FakeService(int failures, bool hang) : failures_(failures), hang_(hang) {}

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const v1::ClassifyRequest* request,
                                     v1::ClassifyResponse* response) override {
    int attempt = ++attempts_;
    if (hang_) return new HangingReactor();
    auto* reactor = context->DefaultReactor();
    if (attempt <= failures_) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "flaky"));
    } else {
      response->mutable_classification()->set_opportunity_id(
          request->opportunity().id());
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  int attempts() const { return attempts_.load(); }

 private:
  class HangingReactor : public grpc::ServerUnaryReactor {
   public:
    void OnCancel() override { Finish(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }
  };

  const int failures_;
  const bool hang_;
  std::atomic<int> attempts_{0};
};

struct FakeServer {
  FakeServer(int failures, bool hang) : service(failures, hang) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~FakeServer() { server->Shutdown(); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port); }

  FakeService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

TEST(ClassificationClientRetryTest, RetriesUnavailableThroughServiceConfig) {
  FakeServer fake(/*failures=*/2, /*hang=*/false);
  ClientOptions options;
  options.initial_backoff = absl::Milliseconds(10);
  auto client = ClientFor(fake.target(), options);
  absl::StatusOr<v1::Classification> c = client->Classify(Opp("r"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->opportunity_id(), "r");
  EXPECT_EQ(fake.service.attempts(), 3);
}

TEST(ClassificationClientRetryTest, GivesUpAfterMaxAttempts) {
  FakeServer fake(/*failures=*/100, /*hang=*/false);
  ClientOptions options;
  options.max_attempts = 2;
  options.initial_backoff = absl::Milliseconds(10);
  auto client = ClientFor(fake.target(), options);
  EXPECT_EQ(client->Classify(Opp("r")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(fake.service.attempts(), 2);
}

TEST(ClassificationClientRetryTest, DeadlineEndsAHangingCall) {
  FakeServer fake(/*failures=*/0, /*hang=*/true);
  ClientOptions options;
  options.timeout = absl::Milliseconds(200);
  auto client = ClientFor(fake.target(), options);
  EXPECT_EQ(client->Classify(Opp("h")).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(ClassificationClientRetryTest, ServiceConfigNamesTheRetryPolicy) {
  ClientOptions options;
  std::string json = ServiceConfigJson(options);
  EXPECT_THAT(json, ::testing::HasSubstr(R"("maxAttempts":4)"));
  EXPECT_THAT(
      json, ::testing::HasSubstr(R"("retryableStatusCodes":["UNAVAILABLE"])"));
  EXPECT_THAT(json, ::testing::HasSubstr("oppmatrix.v1.ClassificationService"));
}

TEST(ClassificationClientTest, EmptyTargetIsRejected) {
  ClientOptions options;
  options.target = "";
  EXPECT_EQ(ClassificationClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace oppmatrix
