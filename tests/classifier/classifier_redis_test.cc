// The classifier with its Redis result store, as real processes and real
// sockets: a gRPC server on loopback, a redis-server started for each test
// on a free port. Stored and cached results, the read RPCs, cell moves, and
// Redis going away and coming back.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/classification_service.grpc.pb.h"
#include "services/classifier/classifier_server.h"
#include "services/common/grpc_status.h"
#include "services/common/status_util.h"
#include "services/store/async_redis.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_url.h"
#include "tests/classifier/ruleset_testdata.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

using ::oppmatrix::testing::DefaultRules;
using ::oppmatrix::testing::RedisServer;
using ::oppmatrix::testing::TestNow;
using ::oppmatrix::testing::ViolatedFields;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
T ParseText(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message))
      << text;
  return message;
}

using ::oppmatrix::testing::kKeyAccount;

// The same deal with no relationship at all: DEVELOP.
constexpr char kNoRelationship[] = R"pb(
  tenant_id: "acme"
  version: 4
  stage: "Negotiation/Review"
  amount { currency_code: "USD" units: 1200000 }
  need_urgency: NEED_URGENCY_URGENT
  account { industry: "Technology" employees: 2500 }
)pb";

v1::Opportunity Opp(const std::string& id, const char* text = kKeyAccount) {
  v1::Opportunity o = ParseText<v1::Opportunity>(text);
  o.set_id(id);
  return o;
}

std::unique_ptr<grpc::ClientContext> Context(
    absl::Duration timeout = absl::Seconds(10)) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

// The classifier on the asynchronous Redis client, as its main wires it.
class ClassifierRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    AsyncRedis::Options ao;
    ao.endpoint = *ParseRedisUrl(redis_.url());
    ao.command_timeout = absl::Milliseconds(500);
    ao.min_backoff = absl::Milliseconds(20);
    ao.max_backoff = absl::Milliseconds(100);
    auto created = AsyncRedis::Create(ao);
    ASSERT_TRUE(created.ok()) << created.status();
    async_redis_ = *std::move(created);
    store_ = std::make_unique<RedisResultStore>(
        async_redis_.get(),
        RedisResultStore::Options{.result_ttl = absl::Hours(24)});
    ClassifierServer::Options options;
    options.listen = "127.0.0.1:0";
    options.service.clock = [this] {
      absl::MutexLock lock(&clock_mu_);
      return now_;
    };
    auto server = ClassifierServer::Start(options, &rules_, store_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::ClassificationService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void Advance(absl::Duration d) {
    absl::MutexLock lock(&clock_mu_);
    now_ += d;
  }

  // Whether the server's health check answers within a second.
  bool HealthAnswers() {
    auto health = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
    grpc::health::v1::HealthCheckRequest check;
    grpc::health::v1::HealthCheckResponse serving;
    return health->Check(Context(absl::Seconds(1)).get(), check, &serving).ok();
  }

  v1::ClassifyResponse Classify(const v1::Opportunity& opp) {
    v1::ClassifyRequest request;
    *request.mutable_opportunity() = opp;
    v1::ClassifyResponse response;
    grpc::Status s = stub_->Classify(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  grpc::Status Get(const std::string& id, v1::Classification* out) {
    v1::GetClassificationRequest request;
    request.set_tenant_id("acme");
    request.set_opportunity_id(id);
    v1::GetClassificationResponse response;
    grpc::Status s =
        stub_->GetClassification(Context().get(), request, &response);
    *out = response.classification();
    return s;
  }

  v1::GetMatrixResponse Matrix(const std::string& request_text = "") {
    auto request = ParseText<v1::GetMatrixRequest>(request_text);
    request.set_tenant_id("acme");
    v1::GetMatrixResponse response;
    grpc::Status s = stub_->GetMatrix(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  const v1::MatrixCellSummary* Cell(const v1::GetMatrixResponse& m,
                                    const std::string& id) {
    for (const auto& c : m.cells()) {
      if (c.cell() == id) return &c;
    }
    ADD_FAILURE() << "no cell " << id;
    return nullptr;
  }

  RedisServer redis_;
  std::unique_ptr<AsyncRedis> async_redis_;
  std::unique_ptr<RedisResultStore> store_;
  StaticRulesetSource rules_{DefaultRules()};
  absl::Mutex clock_mu_;
  absl::Time now_ = TestNow();
  std::unique_ptr<ClassifierServer> server_;
  std::unique_ptr<v1::ClassificationService::Stub> stub_;
};

TEST_F(ClassifierRedisTest, ClassifyStoresAndGetReadsItBack) {
  v1::ClassifyResponse r = Classify(Opp("opp-1"));
  EXPECT_TRUE(r.stored());
  EXPECT_FALSE(r.cached());
  EXPECT_EQ(r.classification().cell(), "KEY");
  v1::Classification got;
  ASSERT_TRUE(Get("opp-1", &got).ok());
  EXPECT_EQ(got.SerializeAsString(), r.classification().SerializeAsString());

  grpc::Status missing = Get("nope", &got);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.error_message(), HasSubstr("\"nope\""));
}

// DeleteClassification: each item answered on its own (bad ones naming
// their field), a removal is one transition to no cell, a newer result
// stays, and nothing stored is no error.
TEST_F(ClassifierRedisTest, DeleteClassificationAnswersEachItem) {
  v1::ClassifyResponse kept = Classify(Opp("opp-1"));
  Classify(Opp("opp-2"));
  auto request = ParseText<v1::DeleteClassificationRequest>(R"pb(
    deletions { tenant_id: "acme" opportunity_id: "opp-1" version: 99 }
    deletions { tenant_id: "acme" opportunity_id: "never" version: 1 }
    deletions { tenant_id: "no spaces" opportunity_id: "opp-2" }
    deletions { tenant_id: "acme" }
    deletions { tenant_id: "acme" opportunity_id: "opp-2" version: -1 }
    deletions { tenant_id: "acme" opportunity_id: "opp-2" version: 1 }
  )pb");
  v1::DeleteClassificationResponse response;
  grpc::Status s =
      stub_->DeleteClassification(Context().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.results_size(), 6);
  EXPECT_TRUE(response.results(0).deleted());
  EXPECT_EQ(response.results(0).from_cell(), kept.classification().cell());
  EXPECT_FALSE(response.results(1).deleted());
  EXPECT_EQ(response.results(1).status().code(), 0);
  auto field = [&](int i) {
    std::vector<FieldViolation> v =
        GetFieldViolations(FromRpcStatus(response.results(i).status()));
    return v.empty() ? std::string() : v[0].field();
  };
  EXPECT_EQ(field(2), "deletions[2].tenant_id");
  EXPECT_EQ(field(3), "deletions[3].opportunity_id");
  EXPECT_EQ(field(4), "deletions[4].version");
  // opp-2 was classified at the opportunity's version 3: a deletion of
  // version 1 is older, and the result stays.
  EXPECT_TRUE(response.results(5).superseded());
  v1::Classification got;
  EXPECT_EQ(Get("opp-1", &got).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get("opp-2", &got).ok());
  v1::ListTransitionsRequest list;
  list.set_tenant_id("acme");
  v1::ListTransitionsResponse moves;
  ASSERT_TRUE(stub_->ListTransitions(Context().get(), list, &moves).ok());
  ASSERT_EQ(moves.transitions_size(), 1);
  EXPECT_EQ(moves.transitions(0).opportunity_id(), "opp-1");
  EXPECT_EQ(moves.transitions(0).to_cell(), "");
}

TEST_F(ClassifierRedisTest, DeleteClassificationOverTheLimitOrRedisDown) {
  v1::DeleteClassificationRequest request;
  for (int i = 0; i < 1001; ++i) {
    v1::OpportunityDeletion& d = *request.add_deletions();
    d.set_tenant_id("acme");
    d.set_opportunity_id(absl::StrCat("opp-", i));
  }
  v1::DeleteClassificationResponse response;
  grpc::Status s =
      stub_->DeleteClassification(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("deletions"));
  request.mutable_deletions()->DeleteSubrange(1, 1000);
  redis_.Kill();
  s = stub_->DeleteClassification(Context().get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("127.0.0.1")));
}

TEST_F(ClassifierRedisTest, UnchangedOpportunityIsServedFromTheCache) {
  v1::ClassifyResponse first = Classify(Opp("opp-1"));
  Advance(absl::Minutes(10));
  v1::ClassifyResponse second = Classify(Opp("opp-1"));
  EXPECT_TRUE(second.cached());
  EXPECT_TRUE(second.stored());
  // Rescored (the answer is of now), but the stored result was current:
  // it is still the one made ten minutes ago, byte for byte.
  EXPECT_EQ(second.classification().classified_time().seconds(),
            absl::ToUnixSeconds(TestNow() + absl::Minutes(10)));
  EXPECT_EQ(second.classification().cell(), first.classification().cell());
  v1::Classification stored;
  ASSERT_TRUE(Get("opp-1", &stored).ok());
  EXPECT_EQ(stored.SerializeAsString(),
            first.classification().SerializeAsString());
  EXPECT_EQ(server_->service().core().stats().cache_hits, 1);

  // Changed content: rescored.
  v1::Opportunity changed = Opp("opp-1");
  changed.set_version(4);
  v1::ClassifyResponse third = Classify(changed);
  EXPECT_FALSE(third.cached());
  EXPECT_EQ(third.classification().opportunity_version(), 4);

  // Older than --cache_max_age (1 h): rescored with the new time.
  Advance(absl::Hours(2));
  v1::ClassifyResponse fourth = Classify(changed);
  EXPECT_FALSE(fourth.cached());
  EXPECT_EQ(fourth.classification().classified_time().seconds(),
            absl::ToUnixSeconds(TestNow() + absl::Minutes(130)));
}

TEST_F(ClassifierRedisTest, BatchIsStoredAndTheMatrixAddsUp) {
  v1::BatchClassifyRequest request;
  for (int i = 0; i < 300; ++i) {
    *request.add_opportunities() = Opp(
        absl::StrCat("opp-", i), i % 3 == 0 ? kNoRelationship : kKeyAccount);
  }
  request.mutable_opportunities(7)->clear_id();  // one bad item
  v1::BatchClassifyResponse response;
  ASSERT_TRUE(stub_->BatchClassify(Context().get(), request, &response).ok());
  int stored = 0;
  for (const auto& r : response.results()) stored += r.stored();
  EXPECT_EQ(stored, 299);
  EXPECT_FALSE(response.results(7).stored());
  EXPECT_EQ(response.results(7).status().code(), grpc::INVALID_ARGUMENT);

  v1::GetMatrixResponse m = Matrix("top_n: 3");
  EXPECT_EQ(m.tenant_id(), "acme");
  EXPECT_EQ(m.ruleset_version(), rules_.Current()->version);
  ASSERT_EQ(m.cells_size(), 4);  // the default 2x2, every cell listed
  const v1::MatrixCellSummary* key = Cell(m, "KEY");
  const v1::MatrixCellSummary* develop = Cell(m, "DEVELOP");
  ASSERT_TRUE(key && develop);
  EXPECT_EQ(key->count(), 199);  // 200 strong ones minus the bad one
  EXPECT_EQ(develop->count(), 100);
  EXPECT_EQ(key->total_amount().currency_code(), "USD");
  EXPECT_EQ(key->total_amount().units(), 199 * 1200000);
  EXPECT_EQ(key->top_size(), 3);
  EXPECT_FALSE(key->action().code().empty());
  EXPECT_EQ(Cell(m, "EXIT")->count(), 0);

  // Filters: none of them is a retailer.
  v1::GetMatrixResponse retail = Matrix("industry: INDUSTRY_RETAIL");
  for (const auto& c : retail.cells()) EXPECT_EQ(c.count(), 0);
}

TEST_F(ClassifierRedisTest, ListOpportunitiesPagesACellInPriorityOrder) {
  v1::BatchClassifyRequest request;
  for (int i = 0; i < 120; ++i) {
    v1::Opportunity o = Opp(absl::StrCat("opp-", i));
    o.mutable_amount()->set_units(100000 + 10000 * i);  // distinct priorities
    *request.add_opportunities() = o;
  }
  v1::BatchClassifyResponse response;
  ASSERT_TRUE(stub_->BatchClassify(Context().get(), request, &response).ok());
  std::set<std::string> seen;
  double last = 101;
  std::string token;
  int pages = 0;
  do {
    v1::ListOpportunitiesRequest list;
    list.set_tenant_id("acme");
    list.set_cell("KEY");
    list.set_page_size(50);
    list.set_page_token(token);
    v1::ListOpportunitiesResponse page;
    grpc::Status s = stub_->ListOpportunities(Context().get(), list, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& c : page.classifications()) {
      EXPECT_LE(c.priority_score(), last);
      last = c.priority_score();
      EXPECT_TRUE(seen.insert(c.opportunity_id()).second);
    }
    token = page.next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_EQ(pages, 3);
}

TEST_F(ClassifierRedisTest, CellMoveIsOneTransitionAndSetsPreviousCell) {
  EXPECT_EQ(Classify(Opp("opp-1")).classification().cell(), "KEY");
  v1::Opportunity lost = Opp("opp-1", kNoRelationship);
  v1::ClassifyResponse moved = Classify(lost);
  EXPECT_EQ(moved.classification().cell(), "DEVELOP");
  EXPECT_EQ(moved.classification().previous_cell(), "KEY");
  Classify(lost);  // cached: no second transition

  v1::ListTransitionsRequest request;
  request.set_tenant_id("acme");
  v1::ListTransitionsResponse response;
  ASSERT_TRUE(stub_->ListTransitions(Context().get(), request, &response).ok());
  ASSERT_EQ(response.transitions_size(), 1);
  const v1::Transition& t = response.transitions(0);
  EXPECT_EQ(t.opportunity_id(), "opp-1");
  EXPECT_EQ(t.from_cell(), "KEY");
  EXPECT_EQ(t.to_cell(), "DEVELOP");
  EXPECT_EQ(t.ruleset_version(), rules_.Current()->version);
  EXPECT_EQ(t.time().seconds(), absl::ToUnixSeconds(TestNow()));
  EXPECT_TRUE(response.next_page_token().empty());

  v1::Classification got;
  ASSERT_TRUE(Get("opp-1", &got).ok());
  EXPECT_EQ(got.previous_cell(), "KEY");
}

TEST_F(ClassifierRedisTest, HistoryAndTrendSayWhatChangedAndWhichWay) {
  EXPECT_EQ(Classify(Opp("opp-1", kNoRelationship)).classification().cell(),
            "DEVELOP");
  v1::Opportunity key = Opp("opp-1");
  key.set_version(5);
  EXPECT_EQ(Classify(key).classification().cell(), "KEY");
  // Sixty days on, the same record: the last interaction is older.
  Advance(absl::Hours(24 * 60));
  v1::ClassifyResponse later = Classify(key);
  EXPECT_FALSE(later.cached());

  v1::GetHistoryRequest request;
  request.set_tenant_id("acme");
  request.set_opportunity_id("opp-1");
  v1::GetHistoryResponse history;
  grpc::Status s = stub_->GetHistory(Context().get(), request, &history);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(history.entries_size(), 3);
  EXPECT_EQ(history.entries(0).cause(), "time");
  EXPECT_EQ(history.entries(1).cause(), "data");
  EXPECT_EQ(history.entries(2).cause(), "first");
  EXPECT_EQ(history.entries(2).cell(), "DEVELOP");
  EXPECT_EQ(history.entries(0).priority_score(),
            later.classification().priority_score());
  EXPECT_LT(history.entries(0).relationship_score(),
            history.entries(1).relationship_score());
  EXPECT_EQ(history.entries(0).classified_time().seconds(),
            absl::ToUnixSeconds(TestNow() + absl::Hours(24 * 60)));
  EXPECT_EQ(history.trend(), v1::TREND_IMPROVING);
  EXPECT_EQ(history.classification().SerializeAsString(),
            later.classification().SerializeAsString());

  v1::GetClassificationRequest get;
  get.set_tenant_id("acme");
  get.set_opportunity_id("opp-1");
  v1::GetClassificationResponse got;
  ASSERT_TRUE(stub_->GetClassification(Context().get(), get, &got).ok());
  EXPECT_EQ(got.trend(), v1::TREND_IMPROVING);
  EXPECT_EQ(got.cause(), "time");
  // Both answer with the opportunity the newest state was classified from.
  EXPECT_EQ(got.opportunity().version(), 5);
  EXPECT_EQ(got.opportunity().SerializeAsString(), key.SerializeAsString());
  EXPECT_EQ(history.opportunity().SerializeAsString(), key.SerializeAsString());

  // The move DEVELOP -> KEY was the record's doing.
  v1::ListTransitionsRequest list;
  list.set_tenant_id("acme");
  v1::ListTransitionsResponse moves;
  ASSERT_TRUE(stub_->ListTransitions(Context().get(), list, &moves).ok());
  ASSERT_EQ(moves.transitions_size(), 1);
  EXPECT_EQ(moves.transitions(0).cause(), "data");

  // An opportunity classified once has one state: no trend yet.
  Classify(Opp("opp-2"));
  get.set_opportunity_id("opp-2");
  ASSERT_TRUE(stub_->GetClassification(Context().get(), get, &got).ok());
  EXPECT_EQ(got.trend(), v1::TREND_UNSPECIFIED);
  EXPECT_EQ(got.cause(), "first");

  request.set_opportunity_id("nope");
  EXPECT_EQ(stub_->GetHistory(Context().get(), request, &history).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.clear_opportunity_id();
  s = stub_->GetHistory(Context().get(), request, &history);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("opportunity_id"));
}

TEST_F(ClassifierRedisTest, ExplainNamesTheFieldsAndFactorsBehindAChange) {
  v1::Opportunity deal = Opp("opp-1");
  EXPECT_EQ(Classify(deal).classification().cell(), "KEY");
  // The CRM's next update: the champion and the sponsor left (the fields
  // are gone, as a proto3 false is), one contact still answers, the
  // amount was re-entered in euros, the owner and the free-form
  // attributes changed.
  deal.set_version(4);
  deal.mutable_relationship()->set_has_champion(false);
  deal.mutable_relationship()->set_executive_sponsor(false);
  deal.mutable_relationship()->set_contacts_engaged(1);
  *deal.mutable_amount() = ParseText<google::type::Money>(
      R"pb(currency_code: "EUR" units: 90000)pb");
  deal.set_owner("maría.garcía@example.com");
  (*deal.mutable_attributes())["hs_lead_status"] = "OPEN_DEAL";
  v1::ClassifyResponse now = Classify(deal);
  EXPECT_EQ(now.classification().cell(), "DEVELOP");

  v1::GetHistoryRequest h;
  h.set_tenant_id("acme");
  h.set_opportunity_id("opp-1");
  v1::GetHistoryResponse history;
  ASSERT_TRUE(stub_->GetHistory(Context().get(), h, &history).ok());
  ASSERT_EQ(history.entries_size(), 2);
  EXPECT_EQ(history.entries(0).cause(), "data");
  EXPECT_THAT(history.entries(0).changed_fields(),
              ElementsAre("amount", "attributes", "owner",
                          "relationship.contacts_engaged",
                          "relationship.executive_sponsor",
                          "relationship.has_champion"));
  EXPECT_THAT(history.entries(1).changed_fields(), ElementsAre());
  // Every factor's contribution is kept with each state, and they add up
  // to the scores as the reasons do.
  for (const v1::HistoryEntry& e : history.entries()) {
    ASSERT_EQ(e.contributions_size(), 13);
    double potential = 50, relationship = 50;
    for (const v1::Reason& r : e.contributions()) {
      (r.axis() == v1::AXIS_POTENTIAL ? potential : relationship) +=
          r.contribution();
    }
    EXPECT_NEAR(potential, e.potential_score(), 0.05);
    EXPECT_NEAR(relationship, e.relationship_score(), 0.05);
  }
  // The transition says the same.
  v1::ListTransitionsRequest list;
  list.set_tenant_id("acme");
  v1::ListTransitionsResponse moves;
  ASSERT_TRUE(stub_->ListTransitions(Context().get(), list, &moves).ok());
  ASSERT_EQ(moves.transitions_size(), 1);
  EXPECT_THAT(moves.transitions(0).changed_fields(),
              ElementsAre("amount", "attributes", "owner",
                          "relationship.contacts_engaged",
                          "relationship.executive_sponsor",
                          "relationship.has_champion"));

  v1::ExplainRequest request;
  request.set_tenant_id("acme");
  request.set_opportunity_id("opp-1");
  v1::ExplainResponse why;
  grpc::Status s = stub_->Explain(Context().get(), request, &why);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(why.from_entry(), 1);
  EXPECT_EQ(why.to_entry(), 0);
  EXPECT_EQ(why.before().cell(), "KEY");
  EXPECT_EQ(why.after().cell(), "DEVELOP");
  EXPECT_THAT(why.causes(), ElementsAre("data"));
  EXPECT_NEAR(why.relationship_delta(),
              now.classification().relationship_score() -
                  history.entries(1).relationship_score(),
              1e-9);
  // Losing the champion moved the most: all of its weight (20 of the
  // relationship's 100) from +10 to -10.
  ASSERT_GE(why.factors_size(), 3);
  EXPECT_EQ(why.factors(0).factor(), "has_champion");
  EXPECT_EQ(why.factors(0).axis(), v1::AXIS_RELATIONSHIP);
  EXPECT_DOUBLE_EQ(why.factors(0).before(), 10);
  EXPECT_DOUBLE_EQ(why.factors(0).after(), -10);
  EXPECT_DOUBLE_EQ(why.factors(0).delta(), -20);
  double moved = 0;
  for (const v1::FactorChange& f : why.factors()) {
    if (f.axis() == v1::AXIS_RELATIONSHIP) moved += f.delta();
  }
  EXPECT_NEAR(moved, why.relationship_delta(), 0.05);
  EXPECT_THAT(why.summary(), ::testing::Contains("Moved from KEY to DEVELOP"));
  EXPECT_THAT(why.summary(),
              ::testing::Contains(HasSubstr("has_champion -20")));
  EXPECT_THAT(why.summary(),
              ::testing::Contains("Changed in the CRM: amount, attributes, "
                                  "owner, relationship.contacts_engaged, "
                                  "relationship.executive_sponsor, "
                                  "relationship.has_champion"));

  // Only two states: nothing older to compare with.
  request.set_from_entry(2);
  s = stub_->Explain(Context().get(), request, &why);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("holds 2 states"));
  request.set_from_entry(0);
  request.set_to_entry(100);
  s = stub_->Explain(Context().get(), request, &why);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("to_entry"));
  request.set_to_entry(1);
  request.set_from_entry(1);
  s = stub_->Explain(Context().get(), request, &why);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("from_entry"));
  request.set_from_entry(0);
  request.set_opportunity_id("nope");
  EXPECT_EQ(stub_->Explain(Context().get(), request, &why).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ClassifierRedisTest, AnAccountIsPlacedByItsOpenOpportunities) {
  // A strong deal and a weak one of one account, and a lost one.
  v1::Opportunity strong = Opp("opp-1");
  strong.mutable_account()->set_id("acc-9");
  v1::Opportunity weak = Opp("opp-2", kNoRelationship);
  weak.mutable_account()->set_id("acc-9");
  weak.mutable_amount()->set_units(120000);
  v1::Opportunity lost = Opp("opp-3");
  lost.mutable_account()->set_id("acc-9");
  lost.set_stage("Closed Lost");
  v1::BatchClassifyRequest batch;
  for (const v1::Opportunity& o : {strong, weak, lost}) {
    *batch.add_opportunities() = o;
  }
  v1::BatchClassifyResponse classified;
  ASSERT_TRUE(stub_->BatchClassify(Context().get(), batch, &classified).ok());
  ASSERT_EQ(classified.results(0).classification().account_id(), "acc-9");

  v1::GetAccountRequest request;
  request.set_tenant_id("acme");
  request.set_account_id("acc-9");
  v1::GetAccountResponse account;
  grpc::Status s = stub_->GetAccount(Context().get(), request, &account);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(account.account_id(), "acc-9");
  EXPECT_EQ(account.opportunities(), 3);
  EXPECT_EQ(account.open_opportunities(), 2);
  ASSERT_EQ(account.open_size(), 2);
  EXPECT_EQ(account.open(0).opportunity_id(), "opp-1");
  // Weighted by amount (1.2M against 120k), the strong deal decides.
  const v1::Classification& a = classified.results(0).classification();
  const v1::Classification& b = classified.results(1).classification();
  const double weighted =
      (1200000 * a.relationship_score() + 120000 * b.relationship_score()) /
      1320000;
  EXPECT_NEAR(account.relationship_score(), weighted, 0.005);
  EXPECT_EQ(account.cell(), "KEY");
  EXPECT_EQ(account.aggregation(), v1::AGGREGATION_AMOUNT_WEIGHTED);
  EXPECT_EQ(account.ruleset_version(), rules_.Current()->version);
  EXPECT_EQ(account.open_amount().units(), 1320000);

  // An account with only closed deals is found, and is on no cell.
  v1::Opportunity won = Opp("opp-4");
  won.mutable_account()->set_id("acc-closed");
  won.set_stage("Closed Won");
  Classify(won);
  request.set_account_id("acc-closed");
  ASSERT_TRUE(stub_->GetAccount(Context().get(), request, &account).ok());
  EXPECT_EQ(account.opportunities(), 1);
  EXPECT_EQ(account.open_opportunities(), 0);
  EXPECT_TRUE(account.cell().empty());

  request.set_account_id("acc-none");
  EXPECT_EQ(stub_->GetAccount(Context().get(), request, &account).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request.clear_account_id();
  s = stub_->GetAccount(Context().get(), request, &account);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), ElementsAre("account_id"));
}

TEST(TrendTest, ThePriorityFromTheOldestEntryToTheNewest) {
  auto entries = [](std::vector<double> newest_first) {
    std::vector<v1::HistoryEntry> out;
    for (double p : newest_first) out.emplace_back().set_priority_score(p);
    return out;
  };
  EXPECT_EQ(TrendOf({}), v1::TREND_UNSPECIFIED);
  EXPECT_EQ(TrendOf(entries({70})), v1::TREND_UNSPECIFIED);
  EXPECT_EQ(TrendOf(entries({75, 10, 70})), v1::TREND_IMPROVING);
  EXPECT_EQ(TrendOf(entries({65, 90, 70})), v1::TREND_DECLINING);
  EXPECT_EQ(TrendOf(entries({74.99, 70})), v1::TREND_STEADY);
  EXPECT_EQ(TrendOf(entries({75, 70})), v1::TREND_IMPROVING);
  EXPECT_EQ(TrendOf(entries({65, 70})), v1::TREND_DECLINING);
  EXPECT_EQ(TrendOf(entries({65.01, 70})), v1::TREND_STEADY);
}

TEST_F(ClassifierRedisTest, BadReadRequestsNameTheField) {
  struct Case {
    std::string field;
    grpc::Status status;
  };
  v1::GetMatrixResponse m;
  v1::ListOpportunitiesResponse l;
  v1::ListTransitionsResponse t;
  v1::GetClassificationResponse g;
  std::vector<Case> cases = {
      {"tenant_id", stub_->GetMatrix(Context().get(), {}, &m)},
      {"top_n", stub_->GetMatrix(Context().get(),
                                 ParseText<v1::GetMatrixRequest>(
                                     "tenant_id: 'acme' top_n: 101"),
                                 &m)},
      {"industry", stub_->GetMatrix(Context().get(),
                                    ParseText<v1::GetMatrixRequest>(
                                        "tenant_id: 'acme' industry: 999"),
                                    &m)},
      {"cell", stub_->ListOpportunities(Context().get(),
                                        ParseText<v1::ListOpportunitiesRequest>(
                                            "tenant_id: 'acme' cell: 'key!'"),
                                        &l)},
      {"page_size", stub_->ListOpportunities(
                        Context().get(),
                        ParseText<v1::ListOpportunitiesRequest>(
                            "tenant_id: 'acme' cell: 'KEY' page_size: 501"),
                        &l)},
      {"page_token", stub_->ListOpportunities(
                         Context().get(),
                         ParseText<v1::ListOpportunitiesRequest>(
                             "tenant_id: 'acme' cell: 'KEY' page_token: 'x'"),
                         &l)},
      {"page_token",
       stub_->ListTransitions(Context().get(),
                              ParseText<v1::ListTransitionsRequest>(
                                  "tenant_id: 'acme' page_token: 'bad-token'"),
                              &t)},
      {"tenant_id",
       stub_->ListTransitions(
           Context().get(),
           ParseText<v1::ListTransitionsRequest>("tenant_id: '{acme}'"), &t)},
      {"opportunity_id",
       stub_->GetClassification(
           Context().get(),
           ParseText<v1::GetClassificationRequest>("tenant_id: 'acme'"), &g)},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.field << ": " << c.status.error_message();
    EXPECT_THAT(ViolatedFields(c.status), ElementsAre(c.field));
  }
}

// What an outside harness sent: page tokens that used to reach Redis and
// come back as INTERNAL with the script's error text.
TEST_F(ClassifierRedisTest, TamperedPageTokensAreInvalidArgument) {
  Classify(Opp("opp-1"));
  std::vector<grpc::Status> statuses;
  for (const char* raw : {"nan|opp-1", "-nan|opp-1", "5 |opp-1"}) {
    v1::ListOpportunitiesRequest list;
    list.set_tenant_id("acme");
    list.set_cell("KEY");
    list.set_page_token(absl::WebSafeBase64Escape(raw));
    v1::ListOpportunitiesResponse l;
    statuses.push_back(stub_->ListOpportunities(Context().get(), list, &l));
  }
  v1::ListTransitionsRequest transitions;
  transitions.set_tenant_id("acme");
  transitions.set_page_token(absl::WebSafeBase64Escape("0-0"));
  v1::ListTransitionsResponse t;
  statuses.push_back(stub_->ListTransitions(Context().get(), transitions, &t));
  // A real token of another cell.
  v1::ListOpportunitiesRequest list;
  list.set_tenant_id("acme");
  list.set_cell("KEY");
  list.set_page_size(1);
  v1::ListOpportunitiesResponse first;
  Classify(Opp("opp-2"));
  ASSERT_TRUE(stub_->ListOpportunities(Context().get(), list, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  list.set_cell("EXIT");
  list.set_page_token(first.next_page_token());
  statuses.push_back(stub_->ListOpportunities(Context().get(), list, &first));
  for (const grpc::Status& s : statuses) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message();
    EXPECT_THAT(ViolatedFields(s), ElementsAre("page_token"));
    EXPECT_THAT(s.error_message(), Not(HasSubstr("ERR")));
  }
  EXPECT_THAT(statuses.back().error_message(), HasSubstr("another listing"));
}

TEST_F(ClassifierRedisTest, InternalErrorsCarryALogIdAndNoRedisText) {
  Classify(Opp("opp-1"));
  ASSERT_TRUE(redis_
                  .Command({"HSET", "oppmatrix:{acme}:opp:opp-1", "c",
                            "\xff\xff not a classification"})
                  .ok());
  v1::Classification got;
  grpc::Status s = Get("opp-1", &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(
      s.error_message(),
      ::testing::MatchesRegex("internal error \\(log id [0-9a-f]{16}\\)"));
}

TEST_F(ClassifierRedisTest, RedisKilledAndRestartedClassifyKeepsAnswering) {
  EXPECT_TRUE(Classify(Opp("before")).stored());
  redis_.Kill();

  // Classify answers within its deadline, unstored.
  for (int i = 0; i < 5; ++i) {
    absl::Time start = absl::Now();
    v1::ClassifyRequest request;
    *request.mutable_opportunity() = Opp(absl::StrCat("down-", i));
    v1::ClassifyResponse response;
    grpc::Status s =
        stub_->Classify(Context(absl::Seconds(2)).get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(response.stored());
    EXPECT_EQ(response.classification().cell(), "KEY");
    EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  }
  v1::BatchClassifyRequest batch;
  *batch.add_opportunities() = Opp("down-batch");
  v1::BatchClassifyResponse batch_response;
  ASSERT_TRUE(
      stub_->BatchClassify(Context().get(), batch, &batch_response).ok());
  EXPECT_FALSE(batch_response.results(0).stored());
  EXPECT_TRUE(batch_response.results(0).has_classification());

  // Reads say why they can't answer.
  v1::Classification got;
  grpc::Status read = Get("before", &got);
  EXPECT_EQ(read.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(read.error_message(), HasSubstr("result store is unavailable"));
  EXPECT_THAT(read.error_message(),
              ::testing::MatchesRegex(".*\\(log id [0-9a-f]{16}\\)"));
  EXPECT_THAT(read.error_message(), Not(HasSubstr("127.0.0.1")));
  EXPECT_GT(server_->service().core().stats().store_errors, 0);

  // Redis comes back (empty: it had no persistence); storage resumes by
  // itself.
  ASSERT_TRUE(redis_.Start().ok());
  bool stored = false;
  absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (!stored && absl::Now() < give_up) {
    stored = Classify(Opp("after")).stored();
    if (!stored) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(stored);
  ASSERT_TRUE(Get("after", &got).ok());
  EXPECT_EQ(got.opportunity_id(), "after");
}

TEST_F(ClassifierRedisTest, HungRedisDelaysNoCallPastItsBound) {
  EXPECT_TRUE(Classify(Opp("before")).stored());
  redis_.Pause();  // connections stay open, nothing is answered
  absl::Time start = absl::Now();
  v1::ClassifyRequest request;
  *request.mutable_opportunity() = Opp("while-hung");
  v1::ClassifyResponse response;
  grpc::Status s =
      stub_->Classify(Context(absl::Seconds(3)).get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(response.stored());
  // Bounded by the store timeout (500 ms per round trip), not the hang.
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));

  // A read with a short deadline ends by its deadline.
  v1::GetClassificationRequest get;
  get.set_tenant_id("acme");
  get.set_opportunity_id("before");
  v1::GetClassificationResponse got;
  start = absl::Now();
  grpc::Status read = stub_->GetClassification(
      Context(absl::Milliseconds(300)).get(), get, &got);
  EXPECT_NE(read.error_code(), grpc::StatusCode::OK);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));

  redis_.Resume();
  bool stored = false;
  absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (!stored && absl::Now() < give_up) {
    stored = Classify(Opp("after")).stored();
    if (!stored) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(stored);
}

// Issue 13's proof that no thread waits: with Redis frozen, 500 Classify
// calls at once each answer by their deadline (unstored, or
// DEADLINE_EXCEEDED) while the health check keeps answering. Threads
// blocked on Redis would hold them for minutes; the one-second bound tells
// the two apart without being tight.
TEST_F(ClassifierRedisTest, AFrozenRedisHoldsNoThread) {
  EXPECT_TRUE(Classify(Opp("before")).stored());
  redis_.Pause();
  constexpr int kCalls = 500;
  struct Call {
    grpc::ClientContext context;
    v1::ClassifyRequest request;
    v1::ClassifyResponse response;
    grpc::Status status;
    absl::Time deadline;
    absl::Time answered;
  };
  std::vector<Call> calls(kCalls);
  absl::Mutex mu;
  int done = 0;
  for (int i = 0; i < kCalls; ++i) {
    Call& c = calls[i];
    c.deadline = absl::Now() + absl::Milliseconds(800);
    c.context.set_deadline(absl::ToChronoTime(c.deadline));
    *c.request.mutable_opportunity() = Opp(absl::StrCat("frozen-", i));
    stub_->async()->Classify(&c.context, &c.request, &c.response,
                             [&mu, &done, &c](grpc::Status s) {
                               absl::MutexLock lock(&mu);
                               c.status = std::move(s);
                               c.answered = absl::Now();
                               ++done;
                             });
  }
  // Meanwhile the health check answers.
  EXPECT_TRUE(HealthAnswers());
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(
                                +[](int* n) { return *n == kCalls; }, &done),
                            absl::Seconds(30)));
  }
  int unstored = 0;
  for (const Call& c : calls) {
    EXPECT_LE(c.answered, c.deadline + absl::Seconds(1));
    if (c.status.ok()) {
      EXPECT_FALSE(c.response.stored());
      ++unstored;
    } else {
      EXPECT_EQ(c.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
          << c.status.error_message();
    }
  }
  EXPECT_GT(unstored, 0);
  redis_.Resume();
}

// Issue 13: no RPC holds a gRPC thread while Redis is frozen. 40 calls of
// each store RPC, and streams, all at once: each answers within its bound
// (unstored, UNAVAILABLE or DEADLINE_EXCEEDED) and the health check answers
// meanwhile. Two callback threads blocked on Redis would take minutes.
TEST_F(ClassifierRedisTest, AFrozenRedisHoldsNoThreadForAnyRpc) {
  EXPECT_TRUE(Classify(Opp("before")).stored());
  redis_.Pause();
  constexpr int kEach = 40;
  absl::Mutex mu;
  int done = 0, calls = 0;
  std::vector<std::string> late;
  const absl::Duration timeout = absl::Milliseconds(800);
  // Runs `start(context, on_done)` with a deadline and checks its answer.
  auto run = [&](const std::string& what, auto start) {
    auto context = std::make_shared<grpc::ClientContext>();
    const absl::Time deadline = absl::Now() + timeout;
    context->set_deadline(absl::ToChronoTime(deadline));
    {
      absl::MutexLock lock(&mu);
      ++calls;
    }
    start(context.get(), [&, what, context, deadline](grpc::Status s) {
      absl::MutexLock lock(&mu);
      if (absl::Now() > deadline + absl::Seconds(1) ||
          !(s.ok() || s.error_code() == grpc::StatusCode::UNAVAILABLE ||
            s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
        late.push_back(
            absl::StrCat(what, ": ", s.error_code(), " ", s.error_message()));
      }
      ++done;
    });
  };
  struct Held {
    v1::BatchClassifyRequest batch;
    v1::BatchClassifyResponse batch_response;
    v1::GetMatrixRequest matrix, filtered;
    v1::GetMatrixResponse matrix_response, filtered_response;
    v1::ListOpportunitiesRequest list;
    v1::ListOpportunitiesResponse list_response;
    v1::ListTransitionsRequest transitions;
    v1::ListTransitionsResponse transitions_response;
    v1::GetClassificationRequest get;
    v1::GetClassificationResponse get_response;
  };
  std::vector<Held> held(kEach);
  for (Held& h : held) {
    for (int i = 0; i < 5; ++i) {
      *h.batch.add_opportunities() = Opp(absl::StrCat("frozen-batch-", i));
    }
    h.matrix.set_tenant_id("acme");
    h.matrix.set_top_n(3);
    h.filtered = h.matrix;
    h.filtered.set_industry(v1::INDUSTRY_TECHNOLOGY);
    h.list.set_tenant_id("acme");
    h.list.set_cell("KEY");
    h.transitions.set_tenant_id("acme");
    h.get.set_tenant_id("acme");
    h.get.set_opportunity_id("before");
    auto* async = stub_->async();
    run("BatchClassify", [&](grpc::ClientContext* c, auto cb) {
      async->BatchClassify(c, &h.batch, &h.batch_response, cb);
    });
    run("GetMatrix", [&](grpc::ClientContext* c, auto cb) {
      async->GetMatrix(c, &h.matrix, &h.matrix_response, cb);
    });
    run("GetMatrix filtered", [&](grpc::ClientContext* c, auto cb) {
      async->GetMatrix(c, &h.filtered, &h.filtered_response, cb);
    });
    run("ListOpportunities", [&](grpc::ClientContext* c, auto cb) {
      async->ListOpportunities(c, &h.list, &h.list_response, cb);
    });
    run("ListTransitions", [&](grpc::ClientContext* c, auto cb) {
      async->ListTransitions(c, &h.transitions, &h.transitions_response, cb);
    });
    run("GetClassification", [&](grpc::ClientContext* c, auto cb) {
      async->GetClassification(c, &h.get, &h.get_response, cb);
    });
  }
  // Streams of 10 messages each, on threads of their own.
  std::vector<std::thread> streams;
  std::atomic<int> stream_results{0};
  for (int t = 0; t < 4; ++t) {
    streams.emplace_back([&, t] {
      auto context = Context(absl::Seconds(10));
      auto stream = stub_->ClassifyStream(context.get());
      for (int i = 0; i < 10; ++i) {
        v1::ClassifyRequest request;
        *request.mutable_opportunity() = Opp(absl::StrCat("frozen-s", t, i));
        stream->Write(request);
      }
      stream->WritesDone();
      v1::ClassifyResult result;
      while (stream->Read(&result)) ++stream_results;
      EXPECT_TRUE(stream->Finish().ok());
    });
  }
  EXPECT_TRUE(HealthAnswers());
  {
    absl::MutexLock lock(&mu);
    std::pair<int*, int*> counts(&done, &calls);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(
            +[](std::pair<int*, int*>* p) { return *p->first == *p->second; },
            &counts),
        absl::Seconds(30)));
  }
  for (std::thread& t : streams) t.join();
  EXPECT_EQ(stream_results.load(), 40);
  EXPECT_THAT(late, ::testing::IsEmpty());
  redis_.Resume();
}

// Issue 13: a stream classifies several messages at once and answers in
// their order. With Redis frozen no store call answers, so every message
// the reactor has started is a pipeline handed to the Redis client.
TEST_F(ClassifierRedisTest, StreamKeepsSeveralInFlightInOrder) {
  EXPECT_TRUE(Classify(Opp("warm-up")).stored());
  const int64_t before = async_redis_->stats().pipelines;
  // The store calls in flight (sent) and waiting (for one of those).
  auto started = [&] {
    return async_redis_->stats().pipelines - before + store_->puts_waiting();
  };
  redis_.Pause();
  auto context = Context(absl::Seconds(20));
  auto stream = stub_->ClassifyStream(context.get());
  constexpr int kMessages = 40;
  for (int i = 0; i < kMessages; ++i) {
    v1::ClassifyRequest request;
    *request.mutable_opportunity() = Opp(absl::StrCat("s-", i));
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  // Sixteen (the reactor's bound) are handed to the store before any
  // answer.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (started() < 16 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(started(), 16);
  redis_.Resume();
  v1::ClassifyResult result;
  int n = 0;
  while (stream->Read(&result)) {
    EXPECT_EQ(result.opportunity_id(), absl::StrCat("s-", n));
    ++n;
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(n, kMessages);
}

// Issue 13: one round trip per Classify, stored or current.
TEST_F(ClassifierRedisTest, EachClassifyIsOneRedisCommand) {
  EXPECT_TRUE(Classify(Opp("warm-up")).stored());  // the script is loaded
  auto commands = [this] { return async_redis_->stats().commands; };
  const int64_t before = commands();
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(Classify(Opp(absl::StrCat("one-", i))).stored());
  }
  // The same again: current, still one command each (nothing written).
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(Classify(Opp(absl::StrCat("one-", i))).cached());
  }
  EXPECT_EQ(commands() - before, 20);
}

// Issue 13: concurrent Classify calls share the asynchronous client's
// writes, so Redis reads their commands in far fewer reads than calls.
TEST_F(ClassifierRedisTest, ConcurrentClassifyCallsShareRedisReads) {
  EXPECT_TRUE(Classify(Opp("warm-up")).stored());
  constexpr int kCalls = 200;
  struct Call {
    grpc::ClientContext context;
    v1::ClassifyRequest request;
    v1::ClassifyResponse response;
    grpc::Status status;
  };
  std::vector<Call> calls(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    *calls[i].request.mutable_opportunity() = Opp(absl::StrCat("shared-", i));
    calls[i].context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  }
  absl::StatusOr<int64_t> before =
      redis_.InfoValue("stats", "total_reads_processed");
  ASSERT_TRUE(before.ok()) << before.status();
  absl::Mutex mu;
  int done = 0;
  for (Call& c : calls) {
    stub_->async()->Classify(&c.context, &c.request, &c.response,
                             [&mu, &done, &c](grpc::Status s) {
                               absl::MutexLock lock(&mu);
                               c.status = std::move(s);
                               ++done;
                             });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(
                                +[](int* n) { return *n == kCalls; }, &done),
                            absl::Seconds(30)));
  }
  absl::StatusOr<int64_t> after =
      redis_.InfoValue("stats", "total_reads_processed");
  ASSERT_TRUE(after.ok()) << after.status();
  for (const Call& c : calls) {
    ASSERT_TRUE(c.status.ok()) << c.status.error_message();
    EXPECT_TRUE(c.response.stored());
  }
  // Less the INFO calls' own connections (a read each, and their close).
  EXPECT_LT(*after - *before, 50)
      << "reads by Redis for " << kCalls << " Classify calls";
  std::cerr << "reads by Redis for " << kCalls
            << " Classify calls: " << (*after - *before) << "\n";
}

TEST(ClassifierWithoutStoreTest, ClassifiesUnstoredAndReadsAreUnavailable) {
  testing::TestClassifier server;  // no --redis
  auto stub = v1::ClassificationService::NewStub(server.channel());
  v1::ClassifyRequest request;
  *request.mutable_opportunity() = Opp("opp-1");
  v1::ClassifyResponse response;
  ASSERT_TRUE(stub->Classify(Context().get(), request, &response).ok());
  EXPECT_FALSE(response.stored());
  v1::GetMatrixResponse m;
  grpc::Status s =
      stub->GetMatrix(Context().get(),
                      ParseText<v1::GetMatrixRequest>("tenant_id: 'acme'"), &m);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("--redis"));
}

}  // namespace
}  // namespace oppmatrix
