// Tenants' own rulesets through RulesetService, with real parts: a
// redis-server per test on a free port, the classifier's gRPC server on
// loopback, and a second replica on the same Redis. Upload validation,
// preview against stored results, publication (on this replica at once,
// on another at its next read), rollback to the default, the limits, and
// Redis being away.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/classification_service.grpc.pb.h"
#include "oppmatrix/v1/ruleset_service.grpc.pb.h"
#include "services/classifier/classifier_server.h"
#include "services/classifier/tenant_rulesets.h"
#include "services/common/grpc_status.h"
#include "services/common/status_util.h"
#include "services/store/async_redis.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_ruleset_store.h"
#include "tests/classifier/ruleset_testdata.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/raw_call.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using ::oppmatrix::testing::DefaultRules;
using ::oppmatrix::testing::DefaultYaml;
using ::oppmatrix::testing::DraftYaml;
using ::oppmatrix::testing::kKeyAccount;
using ::oppmatrix::testing::kSmallDeal;
using ::oppmatrix::testing::Opp;
using ::oppmatrix::testing::RedisServer;
using ::oppmatrix::testing::TestNow;
using ::oppmatrix::testing::TestRedisClient;
using ::oppmatrix::testing::ViolatedFields;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return context;
}

// One classifier replica: its server, its store clients and its tenants'
// rulesets (read when the test says so: no polling thread).
struct Replica {
  Replica(const std::string& redis_url, const RulesetSource* defaults) {
    redis = TestRedisClient(redis_url);
    results = std::make_unique<RedisResultStore>(
        redis.get(), RedisResultStore::Options{.result_ttl = absl::Hours(24)});
    rulesets = std::make_unique<RedisRulesetStore>(
        redis.get(), RedisRulesetStore::Options{});
    tenants = std::make_unique<TenantRulesets>(
        defaults, rulesets.get(),
        TenantRulesets::Options{.poll_interval = absl::ZeroDuration()});
    ClassifierServer::Options options;
    options.listen = "127.0.0.1:0";
    options.service.clock = [] { return TestNow(); };
    // Each upload or publication a second later than the one before.
    options.ruleset_service.clock = [this] {
      return TestNow() + absl::Seconds(ticks++);
    };
    auto started = ClassifierServer::Start(options, defaults, results.get(),
                                           tenants.get(), rulesets.get());
    EXPECT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
    channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                  grpc::InsecureChannelCredentials());
    classify = v1::ClassificationService::NewStub(channel);
    rules = v1::RulesetService::NewStub(channel);
  }

  std::atomic<int64_t> ticks{0};
  std::unique_ptr<AsyncRedis> redis;
  std::unique_ptr<RedisResultStore> results;
  std::unique_ptr<RedisRulesetStore> rulesets;
  std::unique_ptr<TenantRulesets> tenants;
  std::unique_ptr<ClassifierServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ClassificationService::Stub> classify;
  std::unique_ptr<v1::RulesetService::Stub> rules;
};

class RulesetServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    replica_ = std::make_unique<Replica>(redis_.url(), &defaults_);
  }

  v1::UploadRulesetResponse Upload(const std::string& yaml,
                                   const std::string& tenant = "acme") {
    v1::UploadRulesetRequest request;
    request.set_tenant_id(tenant);
    request.set_yaml(yaml);
    request.set_author("ana@example.com");
    v1::UploadRulesetResponse response;
    grpc::Status s =
        replica_->rules->UploadRuleset(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  grpc::Status Publish(const std::string& version,
                       v1::PublishRulesetResponse* response,
                       const std::string& author = "bo") {
    v1::PublishRulesetRequest request;
    request.set_tenant_id("acme");
    request.set_version(version);
    request.set_author(author);
    return replica_->rules->PublishRuleset(Context().get(), request, response);
  }

  grpc::Status Rollback(v1::RollbackRulesetResponse* response) {
    v1::RollbackRulesetRequest request;
    request.set_tenant_id("acme");
    request.set_author("cy");
    return replica_->rules->RollbackRuleset(Context().get(), request, response);
  }

  v1::ListRulesetsResponse List() {
    v1::ListRulesetsRequest request;
    request.set_tenant_id("acme");
    v1::ListRulesetsResponse response;
    grpc::Status s =
        replica_->rules->ListRulesets(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  v1::Classification Classify(Replica& replica, const v1::Opportunity& opp) {
    v1::ClassifyRequest request;
    *request.mutable_opportunity() = opp;
    v1::ClassifyResponse response;
    grpc::Status s =
        replica.classify->Classify(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.classification();
  }

  v1::PreviewRulesetResponse Preview(const std::string& version,
                                     int max_moved = 0) {
    v1::PreviewRulesetRequest request;
    request.set_tenant_id("acme");
    request.set_version(version);
    request.set_max_moved(max_moved);
    v1::PreviewRulesetResponse response;
    grpc::Status s =
        replica_->rules->PreviewRuleset(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  RedisServer redis_;
  StaticRulesetSource defaults_{DefaultRules()};
  std::unique_ptr<Replica> replica_;
};

TEST_F(RulesetServiceTest, UploadValidatesAndNamesEachProblem) {
  v1::UploadRulesetRequest request;
  request.set_tenant_id("acme");
  request.set_author("ana");
  request.set_yaml(absl::StrReplaceAll(
      DefaultYaml(),
      {{"potential_thresholds: [50]", "potential_thresholds: [50, 20]"},
       {"\nname: default\n", "\nname: Bad Name\n"}}));
  v1::UploadRulesetResponse response;
  grpc::Status s =
      replica_->rules->UploadRuleset(Context().get(), request, &response);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<FieldViolation> v = GetFieldViolations(FromGrpcStatus(s));
  ASSERT_GE(v.size(), 2u);
  EXPECT_EQ(v[0].field(), "yaml");
  EXPECT_THAT(v[0].description(), HasSubstr("name: must match"));
  bool names_thresholds = false;
  for (const FieldViolation& f : v) {
    names_thresholds |=
        absl::StrContains(f.description(), "matrix.potential_thresholds");
  }
  EXPECT_TRUE(names_thresholds) << s.error_message();

  // YAML that does not parse, and a mistyped key.
  request.set_yaml("name: [unclosed");
  s = replica_->rules->UploadRuleset(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("yaml"));
  request.set_yaml(absl::StrCat(DefaultYaml(), "\nmatrxi: {}\n"));
  s = replica_->rules->UploadRuleset(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("matrxi"));

  // The request's own fields.
  request.set_tenant_id("");
  request.set_author("");
  request.set_yaml(std::string(kMaxRulesetUploadBytes + 1, '#'));
  s = replica_->rules->UploadRuleset(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("tenant_id", "author", "yaml"));
  request.set_tenant_id("acme");
  request.set_author("line\nbreak");
  request.set_yaml(DefaultYaml());
  s = replica_->rules->UploadRuleset(Context().get(), request, &response);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("author"));
  EXPECT_THAT(s.error_message(), HasSubstr("control characters"));

  // Nothing was kept.
  EXPECT_THAT(List().versions(), SizeIs(0));
}

TEST_F(RulesetServiceTest, UploadIsIdempotentAndListed) {
  v1::UploadRulesetResponse first = Upload(DraftYaml("strict", "60"));
  EXPECT_TRUE(first.created());
  EXPECT_THAT(first.ruleset().version(), ::testing::StartsWith("strict@"));
  EXPECT_EQ(first.ruleset().name(), "strict");
  EXPECT_EQ(first.ruleset().uploaded_by(), "ana@example.com");
  EXPECT_EQ(first.ruleset().uploaded_time().seconds(),
            absl::ToUnixSeconds(TestNow()));  // the first tick
  EXPECT_FALSE(first.ruleset().active());
  v1::UploadRulesetResponse again = Upload(DraftYaml("strict", "60"));
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.ruleset().version(), first.ruleset().version());

  v1::ListRulesetsResponse list = List();
  EXPECT_TRUE(list.uses_default());
  EXPECT_EQ(list.active_version(), defaults_.Current()->version);
  EXPECT_EQ(list.default_version(), defaults_.Current()->version);
  ASSERT_THAT(list.versions(), SizeIs(1));
  EXPECT_EQ(list.versions(0).version(), first.ruleset().version());
  EXPECT_THAT(list.publications(), SizeIs(0));

  // The text comes back as uploaded.
  v1::GetRulesetRequest get;
  get.set_tenant_id("acme");
  get.set_version(first.ruleset().version());
  v1::GetRulesetResponse text;
  ASSERT_TRUE(replica_->rules->GetRuleset(Context().get(), get, &text).ok());
  EXPECT_EQ(text.yaml(), DraftYaml("strict", "60"));
  get.set_version("strict@000000000000");
  EXPECT_EQ(
      replica_->rules->GetRuleset(Context().get(), get, &text).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(RulesetServiceTest, PublishedRulesetClassifiesOnlyItsTenant) {
  const std::string version =
      Upload(DraftYaml("strict", "99.9")).ruleset().version();
  EXPECT_EQ(Classify(*replica_, Opp("acme", "a1")).ruleset_version(),
            defaults_.Current()->version);

  v1::PublishRulesetResponse published;
  ASSERT_TRUE(Publish(version, &published).ok());
  EXPECT_TRUE(published.changed());
  EXPECT_EQ(published.publication().version(), version);
  EXPECT_EQ(published.publication().previous_version(), "");
  EXPECT_EQ(published.publication().author(), "bo");
  EXPECT_FALSE(published.publication().rollback());

  // This replica uses it at once, for acme only.
  v1::Classification acme = Classify(*replica_, Opp("acme", "a1"));
  EXPECT_EQ(acme.ruleset_version(), version);
  EXPECT_NE(acme.cell(), "KEY");
  v1::Classification other = Classify(*replica_, Opp("globex", "g1"));
  EXPECT_EQ(other.ruleset_version(), defaults_.Current()->version);
  EXPECT_EQ(other.cell(), "KEY");

  // BatchClassify picks each item's tenant's ruleset.
  v1::BatchClassifyRequest batch;
  *batch.add_opportunities() = Opp("acme", "a2");
  *batch.add_opportunities() = Opp("globex", "g2");
  *batch.add_opportunities() = Opp("acme", "a3");
  v1::BatchClassifyResponse results;
  ASSERT_TRUE(
      replica_->classify->BatchClassify(Context().get(), batch, &results).ok());
  EXPECT_EQ(results.results(0).classification().ruleset_version(), version);
  EXPECT_EQ(results.results(1).classification().ruleset_version(),
            defaults_.Current()->version);
  EXPECT_EQ(results.results(2).classification().ruleset_version(), version);

  // The matrix is banded by the tenant's ruleset.
  v1::GetMatrixRequest matrix_request;
  matrix_request.set_tenant_id("acme");
  v1::GetMatrixResponse matrix;
  ASSERT_TRUE(
      replica_->classify->GetMatrix(Context().get(), matrix_request, &matrix)
          .ok());
  EXPECT_EQ(matrix.ruleset_version(), version);
  EXPECT_THAT(matrix.potential_thresholds(), ElementsAre(99.9));

  // Publishing it again records nothing.
  ASSERT_TRUE(Publish(version, &published).ok());
  EXPECT_FALSE(published.changed());
  v1::ListRulesetsResponse list = List();
  EXPECT_FALSE(list.uses_default());
  EXPECT_EQ(list.active_version(), version);
  ASSERT_THAT(list.versions(), SizeIs(1));
  EXPECT_TRUE(list.versions(0).active());
  ASSERT_THAT(list.publications(), SizeIs(1));
  EXPECT_EQ(list.publications(0).author(), "bo");
  EXPECT_EQ(list.publications(0).time().seconds(),
            absl::ToUnixSeconds(TestNow()) + 1);  // after the upload
}

TEST_F(RulesetServiceTest, AnotherReplicaPicksThePublicationUp) {
  Replica second(redis_.url(), &defaults_);
  const std::string version =
      Upload(DraftYaml("strict", "99.9")).ruleset().version();
  v1::PublishRulesetResponse published;
  ASSERT_TRUE(Publish(version, &published).ok());
  // Until its next read the other replica classifies by what it had.
  EXPECT_EQ(Classify(second, Opp("acme", "a1")).ruleset_version(),
            defaults_.Current()->version);
  ASSERT_TRUE(second.tenants->Refresh().ok());
  EXPECT_EQ(Classify(second, Opp("acme", "a1")).ruleset_version(), version);
  EXPECT_EQ(second.tenants->stats().tenants, 1);
  // A read with nothing new loads nothing.
  const int64_t refreshes = second.tenants->stats().refreshes;
  ASSERT_TRUE(second.tenants->Refresh().ok());
  EXPECT_EQ(second.tenants->stats().refreshes, refreshes);

  v1::RollbackRulesetResponse rolled;
  ASSERT_TRUE(Rollback(&rolled).ok());
  ASSERT_TRUE(second.tenants->Refresh().ok());
  EXPECT_EQ(Classify(second, Opp("acme", "a1")).ruleset_version(),
            defaults_.Current()->version);
  EXPECT_EQ(second.tenants->stats().tenants, 0);
}

TEST_F(RulesetServiceTest, PreviewPredictsWhatPublishingMoves) {
  // Stored results under the default: KEY deals and small ones.
  std::map<std::string, v1::Opportunity> opps;
  for (int i = 0; i < 1200; ++i) {
    std::string id = absl::StrCat("o", i);
    opps[id] = Opp("acme", id, i % 3 == 0 ? kSmallDeal : kKeyAccount);
    if (i % 5 == 0) {
      opps[id].mutable_relationship()->set_meetings_last_90_days(0);
      opps[id].mutable_relationship()->set_has_champion(false);
    }
  }
  std::map<std::string, std::string> before;
  for (const auto& [id, opp] : opps)
    before[id] = Classify(*replica_, opp).cell();
  // Another tenant's results are not compared.
  Classify(*replica_, Opp("globex", "g1"));

  const std::string version =
      Upload(DraftYaml("strict", "99.9")).ruleset().version();
  v1::PreviewRulesetResponse preview = Preview(version, 10);
  EXPECT_EQ(preview.version(), version);
  EXPECT_EQ(preview.active_version(), defaults_.Current()->version);
  EXPECT_EQ(preview.compared(), 1200);
  EXPECT_EQ(preview.skipped(), 0);
  ASSERT_GT(preview.moved(), 0);
  EXPECT_THAT(preview.moved_opportunities(), SizeIs(10));
  for (int i = 1; i < preview.moved_opportunities_size(); ++i) {
    EXPECT_GE(preview.moved_opportunities(i - 1).priority_score(),
              preview.moved_opportunities(i).priority_score());
  }
  // Nothing was written by the preview.
  EXPECT_EQ(Classify(*replica_, opps["o1"]).ruleset_version(),
            defaults_.Current()->version);

  // Publish, classify every opportunity again: the moves are the ones the
  // preview counted, pair for pair.
  v1::PublishRulesetResponse published;
  ASSERT_TRUE(Publish(version, &published).ok());
  std::map<std::pair<std::string, std::string>, int64_t> actual;
  int64_t moved = 0;
  for (const auto& [id, opp] : opps) {
    v1::Classification c = Classify(*replica_, opp);
    ++actual[{before[id], c.cell()}];
    moved += c.cell() != before[id];
  }
  std::map<std::pair<std::string, std::string>, int64_t> predicted;
  int64_t total = 0;
  for (const v1::CellMove& m : preview.moves()) {
    predicted[{m.from_cell(), m.to_cell()}] = m.count();
    total += m.count();
    EXPECT_EQ(m.amount().currency_code(), "USD");
  }
  EXPECT_EQ(predicted, actual);
  EXPECT_EQ(total, 1200);
  EXPECT_EQ(preview.moved(), moved);
  // The KEY deals' amounts: 1.2 M USD each.
  for (const v1::CellMove& m : preview.moves()) {
    if (m.from_cell() == "KEY") {
      EXPECT_EQ(m.amount().units(), 1'200'000 * m.count());
    }
  }

  // Bad requests name their field.
  v1::PreviewRulesetRequest bad;
  bad.set_tenant_id("acme");
  bad.set_max_moved(5000);
  v1::PreviewRulesetResponse ignored;
  grpc::Status s =
      replica_->rules->PreviewRuleset(Context().get(), bad, &ignored);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("version", "max_moved"));
  bad.set_version("nope@1");
  bad.set_max_moved(1);
  s = replica_->rules->PreviewRuleset(Context().get(), bad, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RulesetServiceTest, RollbackGoesBackOneStepAtATimeToTheDefault) {
  const std::string v1 = Upload(DraftYaml("first", "60")).ruleset().version();
  const std::string v2 =
      Upload(DraftYaml("second", "99.9")).ruleset().version();
  v1::PublishRulesetResponse published;
  ASSERT_TRUE(Publish(v1, &published).ok());
  ASSERT_TRUE(Publish(v2, &published).ok());
  EXPECT_EQ(published.publication().previous_version(), v1);
  EXPECT_EQ(Classify(*replica_, Opp("acme", "a")).ruleset_version(), v2);

  v1::RollbackRulesetResponse rolled;
  ASSERT_TRUE(Rollback(&rolled).ok());
  EXPECT_TRUE(rolled.publication().rollback());
  EXPECT_EQ(rolled.publication().version(), v1);
  EXPECT_EQ(rolled.publication().previous_version(), v2);
  v1::Classification back = Classify(*replica_, Opp("acme", "a"));
  EXPECT_EQ(back.ruleset_version(), v1);
  EXPECT_EQ(back.cell(), "KEY");

  ASSERT_TRUE(Rollback(&rolled).ok());
  EXPECT_EQ(rolled.publication().version(), "");
  EXPECT_EQ(Classify(*replica_, Opp("acme", "a")).ruleset_version(),
            defaults_.Current()->version);
  grpc::Status s = Rollback(&rolled);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("default"));

  v1::ListRulesetsResponse list = List();
  EXPECT_TRUE(list.uses_default());
  ASSERT_THAT(list.publications(), SizeIs(4));
  EXPECT_TRUE(list.publications(0).rollback());
  EXPECT_EQ(list.publications(0).author(), "cy");
  EXPECT_EQ(list.publications(0).previous_version(), v1);
  EXPECT_EQ(list.publications(3).version(), v1);
  EXPECT_FALSE(list.publications(3).rollback());
  for (const v1::RulesetVersionInfo& v : list.versions()) {
    EXPECT_FALSE(v.active());
  }

  // Publishing what was never uploaded.
  s = Publish("third@0123456789ab", &published);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("third@0123456789ab"));
  s = Publish("", &published, "");
  EXPECT_THAT(ViolatedFields(s), ElementsAre("version", "author"));
}

TEST_F(RulesetServiceTest, KeepsAtMostTheLimitOfVersions) {
  // Every upload is a distinct version; the one in force and the one a
  // rollback returns to are never dropped.
  std::vector<std::string> versions;
  for (int i = 0; i < kMaxRulesetVersions + 3; ++i) {
    versions.push_back(
        Upload(DraftYaml(absl::StrCat("v", i), absl::StrCat(40 + i * 0.1)))
            .ruleset()
            .version());
    if (i == 0 || i == 1) {
      v1::PublishRulesetResponse published;
      ASSERT_TRUE(Publish(versions.back(), &published).ok());
    }
  }
  v1::ListRulesetsResponse list = List();
  EXPECT_THAT(list.versions(), SizeIs(kMaxRulesetVersions));
  std::vector<std::string> kept;
  for (const auto& v : list.versions()) kept.push_back(v.version());
  EXPECT_THAT(kept, Contains(versions[0]));  // a rollback returns to it
  EXPECT_THAT(kept, Contains(versions[1]));  // in force
  EXPECT_THAT(kept, ::testing::Not(Contains(versions[2])));
  v1::RollbackRulesetResponse rolled;
  ASSERT_TRUE(Rollback(&rolled).ok());
  EXPECT_EQ(rolled.publication().version(), versions[0]);
}

TEST_F(RulesetServiceTest, UndecodableBodiesAndRedisAwayAreExactErrors) {
  std::vector<std::string> replies;
  grpc::Status s = testing::RawCall(
      replica_->channel, "/oppmatrix.v1.RulesetService/UploadRuleset",
      {std::string("\xff\xff\xff", 3)}, &replies);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  redis_.Kill();
  v1::ListRulesetsRequest request;
  request.set_tenant_id("acme");
  v1::ListRulesetsResponse response;
  s = replica_->rules->ListRulesets(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("redis")));
  // Classification goes on by what this replica holds.
  EXPECT_EQ(Classify(*replica_, Opp("acme", "a")).cell(), "KEY");
  EXPECT_FALSE(replica_->tenants->Refresh().ok());
  EXPECT_EQ(replica_->tenants->stats().refresh_errors, 1);
}

TEST(RulesetServiceWithoutRedisTest, IsUnavailable) {
  StaticRulesetSource defaults(DefaultRules());
  ClassifierServer::Options options;
  options.listen = "127.0.0.1:0";
  auto server = ClassifierServer::Start(options, &defaults);
  ASSERT_TRUE(server.ok());
  auto stub = v1::RulesetService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                          grpc::InsecureChannelCredentials()));
  v1::ListRulesetsRequest request;
  request.set_tenant_id("acme");
  v1::ListRulesetsResponse response;
  grpc::Status s = stub->ListRulesets(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("--redis"));
}

}  // namespace
}  // namespace oppmatrix
