// Rescoring a tenant's stored results after a publication or rollback,
// with real parts: a redis-server per test, the classifier's gRPC server
// on loopback with a Rescorer driven step by step (RunOnce) on an
// injected clock, and, for a crash, the real oppmatrix-classifier killed
// with SIGKILL mid-rescore and started again.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <signal.h>

#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/classification_service.grpc.pb.h"
#include "oppmatrix/v1/ruleset_service.grpc.pb.h"
#include "services/classifier/classification_core.h"
#include "services/classifier/classifier_server.h"
#include "services/classifier/rescorer.h"
#include "services/classifier/sweeper.h"
#include "services/classifier/tenant_rulesets.h"
#include "services/common/wait_for.h"
#include "services/engine/engine.h"
#include "services/store/async_redis.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_ruleset_store.h"
#include "tests/classifier/ruleset_testdata.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

using ::oppmatrix::testing::DefaultRules;
using ::oppmatrix::testing::DraftYaml;
using ::oppmatrix::testing::kKeyAccount;
using ::oppmatrix::testing::kSmallDeal;
using ::oppmatrix::testing::Opp;
using ::oppmatrix::testing::RedisServer;
using ::oppmatrix::testing::Subprocess;
using ::oppmatrix::testing::TestNow;
using ::oppmatrix::testing::TestRedisClient;
using ::oppmatrix::testing::ViolatedFields;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;

using MoveCounts = std::map<std::pair<std::string, std::string>, int64_t>;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  return context;
}

// `n` deals of tenant acme: KEY accounts, small deals, and KEY accounts
// without champion or meetings, so that a higher potential cut moves some.
std::vector<v1::Opportunity> Deals(int n) {
  std::vector<v1::Opportunity> out;
  for (int i = 0; i < n; ++i) {
    v1::Opportunity o = Opp("acme", absl::StrCat("o", i),
                            i % 3 == 0 ? kSmallDeal : kKeyAccount);
    if (i % 5 == 0) {
      o.mutable_relationship()->set_meetings_last_90_days(0);
      o.mutable_relationship()->set_has_champion(false);
    }
    if (i % 7 == 0) o.mutable_amount()->set_units(40'000 + i);
    out.push_back(std::move(o));
  }
  return out;
}

// The two stubs of one classifier and the calls the tests make.
struct Client {
  explicit Client(int port) {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    classify = v1::ClassificationService::NewStub(channel);
    rules = v1::RulesetService::NewStub(channel);
  }

  void Store(const std::vector<v1::Opportunity>& opps) {
    for (size_t at = 0; at < opps.size(); at += 500) {
      v1::BatchClassifyRequest request;
      for (size_t i = at; i < std::min(opps.size(), at + 500); ++i) {
        *request.add_opportunities() = opps[i];
      }
      v1::BatchClassifyResponse response;
      grpc::Status s =
          classify->BatchClassify(Context().get(), request, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (const v1::ClassifyResult& r : response.results()) {
        ASSERT_TRUE(r.stored()) << r.status().message();
      }
    }
  }

  std::string Upload(const std::string& yaml) {
    v1::UploadRulesetRequest request;
    request.set_tenant_id("acme");
    request.set_yaml(yaml);
    request.set_author("ana");
    v1::UploadRulesetResponse response;
    grpc::Status s = rules->UploadRuleset(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.ruleset().version();
  }

  v1::PreviewRulesetResponse Preview(const std::string& version) {
    v1::PreviewRulesetRequest request;
    request.set_tenant_id("acme");
    request.set_version(version);
    v1::PreviewRulesetResponse response;
    grpc::Status s = rules->PreviewRuleset(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  int64_t Publish(const std::string& version) {
    v1::PublishRulesetRequest request;
    request.set_tenant_id("acme");
    request.set_version(version);
    request.set_author("bo");
    v1::PublishRulesetResponse response;
    grpc::Status s = rules->PublishRuleset(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.rescore_id();
  }

  int64_t Rollback() {
    v1::RollbackRulesetRequest request;
    request.set_tenant_id("acme");
    request.set_author("cy");
    v1::RollbackRulesetResponse response;
    grpc::Status s =
        rules->RollbackRuleset(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.rescore_id();
  }

  grpc::Status Status(v1::RescoreStatus* status,
                      const std::string& tenant = "acme") {
    v1::GetRescoreStatusRequest request;
    request.set_tenant_id(tenant);
    return rules->GetRescoreStatus(Context().get(), request, status);
  }

  // Every transition of the tenant, oldest first.
  std::vector<v1::Transition> Transitions() {
    std::vector<v1::Transition> out;
    v1::ListTransitionsRequest request;
    request.set_tenant_id("acme");
    request.set_page_size(500);
    while (true) {
      v1::ListTransitionsResponse page;
      grpc::Status s =
          classify->ListTransitions(Context().get(), request, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const v1::Transition& t : page.transitions()) out.push_back(t);
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  // "<cell> <cause>" of each of the history's states, newest first.
  std::vector<std::string> HistoryCauses(const std::string& id) {
    v1::GetHistoryRequest request;
    request.set_tenant_id("acme");
    request.set_opportunity_id(id);
    v1::GetHistoryResponse history;
    grpc::Status s = classify->GetHistory(Context().get(), request, &history);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> out;
    for (const v1::HistoryEntry& e : history.entries()) {
      out.push_back(absl::StrCat(e.cell(), " ", e.cause()));
    }
    return out;
  }

  v1::Classification Get(const std::string& id) {
    v1::GetClassificationRequest request;
    request.set_tenant_id("acme");
    request.set_opportunity_id(id);
    v1::GetClassificationResponse response;
    grpc::Status s =
        classify->GetClassification(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.classification();
  }

  std::unique_ptr<v1::ClassificationService::Stub> classify;
  std::unique_ptr<v1::RulesetService::Stub> rules;
};

// The moves a preview predicts (from != to).
MoveCounts PredictedMoves(const v1::PreviewRulesetResponse& preview) {
  MoveCounts out;
  for (const v1::CellMove& m : preview.moves()) {
    if (m.from_cell() != m.to_cell())
      out[{m.from_cell(), m.to_cell()}] = m.count();
  }
  return out;
}

// The transitions with cause "ruleset" to `version`, as move counts; each
// opportunity at most once (else `twice` names it).
MoveCounts RulesetMoves(const std::vector<v1::Transition>& transitions,
                        const std::string& version, std::string* twice) {
  MoveCounts out;
  std::set<std::string> seen;
  for (const v1::Transition& t : transitions) {
    if (t.cause() != "ruleset" || t.ruleset_version() != version) continue;
    if (!seen.insert(t.opportunity_id()).second) *twice = t.opportunity_id();
    ++out[{t.from_cell(), t.to_cell()}];
  }
  return out;
}

class RescoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    redis_client_ = TestRedisClient(redis_.url());
    results_ = std::make_unique<RedisResultStore>(
        redis_client_.get(),
        RedisResultStore::Options{.result_ttl = absl::Hours(24 * 365)});
    rulesets_ = std::make_unique<RedisRulesetStore>(
        redis_client_.get(), RedisRulesetStore::Options{});
    tenants_ = std::make_unique<TenantRulesets>(
        &defaults_, rulesets_.get(),
        TenantRulesets::Options{.poll_interval = absl::ZeroDuration()});
    rescorer_ = NewRescorer("here");
    ClassifierServer::Options options;
    options.listen = "127.0.0.1:0";
    options.service.clock = [this] { return Now(); };
    options.ruleset_service.clock = [this] { return Now(); };
    auto started = ClassifierServer::Start(options, &defaults_, results_.get(),
                                           tenants_.get(), rulesets_.get());
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    client_ = std::make_unique<Client>(server_->port());
  }

  std::unique_ptr<Rescorer> NewRescorer(const std::string& owner) {
    return std::make_unique<Rescorer>(
        tenants_.get(), rulesets_.get(), results_.get(),
        Rescorer::Options{.owner = owner,
                          .rate = 0,
                          .lease = absl::Seconds(10),
                          .poll_interval = absl::ZeroDuration(),
                          .clock = [this] { return Now(); }});
  }

  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

  v1::RescoreStatus Status() {
    v1::RescoreStatus status;
    grpc::Status s = client_->Status(&status);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return status;
  }

  RedisServer redis_;
  StaticRulesetSource defaults_{DefaultRules()};
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = TestNow();
  std::unique_ptr<AsyncRedis> redis_client_;
  std::unique_ptr<RedisResultStore> results_;
  std::unique_ptr<RedisRulesetStore> rulesets_;
  std::unique_ptr<TenantRulesets> tenants_;
  std::unique_ptr<Rescorer> rescorer_;
  std::unique_ptr<ClassifierServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(RescoreTest, PublishingRescoresEveryResultOnceAsThePreviewPredicted) {
  const std::vector<v1::Opportunity> opps = Deals(1200);
  client_->Store(opps);
  // Another tenant's result is not rescored.
  client_->Store({Opp("globex", "g1")});
  v1::RescoreStatus none;
  EXPECT_EQ(client_->Status(&none).error_code(), grpc::StatusCode::NOT_FOUND);

  const std::string version = client_->Upload(DraftYaml("strict", "99.9"));
  const v1::PreviewRulesetResponse preview = client_->Preview(version);
  ASSERT_EQ(preview.compared(), 1200);
  ASSERT_GT(preview.moved(), 0);
  Advance(absl::Minutes(1));
  const int64_t id = client_->Publish(version);
  EXPECT_GT(id, 0);
  v1::RescoreStatus pending = Status();
  EXPECT_EQ(pending.id(), id);
  EXPECT_EQ(pending.state(), v1::RescoreStatus::RUNNING);
  EXPECT_EQ(pending.version(), version);
  EXPECT_EQ(pending.done(), 0);

  Advance(absl::Minutes(1));
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  v1::RescoreStatus done = Status();
  EXPECT_EQ(done.state(), v1::RescoreStatus::DONE);
  EXPECT_EQ(done.total(), 1200);
  EXPECT_EQ(done.done(), 1200);
  EXPECT_EQ(done.moved(), preview.moved());
  EXPECT_EQ(done.skipped(), 0);
  EXPECT_EQ(done.owner(), "");
  EXPECT_EQ(absl::FromUnixSeconds(done.finished_time().seconds()),
            absl::FromUnixSeconds(absl::ToUnixSeconds(Now())));

  // Every stored result is the version's, and its moves are the
  // preview's, pair for pair, each opportunity once.
  std::string twice;
  const std::vector<v1::Transition> transitions = client_->Transitions();
  EXPECT_EQ(RulesetMoves(transitions, version, &twice),
            PredictedMoves(preview));
  EXPECT_EQ(twice, "");
  // Explain says it was the ruleset: the same factors, the same points,
  // another cut.
  for (const v1::Transition& t : transitions) {
    if (t.cause() != "ruleset") continue;
    v1::ExplainRequest request;
    request.set_tenant_id("acme");
    request.set_opportunity_id(t.opportunity_id());
    v1::ExplainResponse why;
    grpc::Status s = client_->classify->Explain(Context().get(), request, &why);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_THAT(why.causes(), ElementsAre("ruleset"));
    EXPECT_THAT(why.changed_fields(), ElementsAre());
    EXPECT_EQ(why.after().cell(), t.to_cell());
    EXPECT_EQ(why.before().cell(), t.from_cell());
    ASSERT_FALSE(why.factors().empty());
    for (const v1::FactorChange& f : why.factors()) {
      EXPECT_EQ(f.delta(), 0) << f.factor();
    }
    EXPECT_THAT(why.summary(),
                Contains(absl::StrCat("Ruleset ", defaults_.Current()->version,
                                      " → ", version)));
    break;
  }
  for (const v1::Opportunity& o : opps) {
    v1::Classification c = client_->Get(o.id());
    EXPECT_EQ(c.ruleset_version(), version) << o.id();
    EXPECT_EQ(absl::FromUnixSeconds(c.classified_time().seconds()),
              absl::FromUnixSeconds(absl::ToUnixSeconds(Now())));
  }
  v1::GetClassificationRequest other;
  other.set_tenant_id("globex");
  other.set_opportunity_id("g1");
  v1::GetClassificationResponse g1;
  ASSERT_TRUE(
      client_->classify->GetClassification(Context().get(), other, &g1).ok());
  EXPECT_EQ(g1.classification().ruleset_version(),
            defaults_.Current()->version);

  // Running again does nothing: the rescore is finished.
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  EXPECT_EQ(client_->Transitions().size(), transitions.size());
  EXPECT_EQ(rescorer_->stats().finished, 1);
  EXPECT_EQ(rescorer_->stats().rescored, 1200);
}

TEST_F(RescoreTest, RollbackRestoresThePreviousVersionsResults) {
  const std::vector<v1::Opportunity> opps = Deals(600);
  client_->Store(opps);
  std::map<std::string, v1::Classification> before;
  for (const v1::Opportunity& o : opps) before[o.id()] = client_->Get(o.id());

  const std::string version = client_->Upload(DraftYaml("strict", "99.9"));
  client_->Publish(version);
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  const int64_t id = client_->Rollback();
  v1::RescoreStatus back = Status();
  EXPECT_EQ(back.id(), id);
  EXPECT_TRUE(back.uses_default());
  EXPECT_EQ(back.version(), defaults_.Current()->version);
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  back = Status();
  EXPECT_EQ(back.state(), v1::RescoreStatus::DONE);
  EXPECT_EQ(back.done(), 600);
  EXPECT_GT(back.moved(), 0);

  for (const v1::Opportunity& o : opps) {
    v1::Classification c = client_->Get(o.id());
    const v1::Classification& was = before[o.id()];
    EXPECT_EQ(c.ruleset_version(), was.ruleset_version()) << o.id();
    EXPECT_EQ(c.cell(), was.cell()) << o.id();
    EXPECT_EQ(c.priority_score(), was.priority_score()) << o.id();
  }
  // The way back is a transition with cause "ruleset" for each move.
  std::string twice;
  MoveCounts out = RulesetMoves(client_->Transitions(), version, &twice);
  MoveCounts in = RulesetMoves(client_->Transitions(),
                               defaults_.Current()->version, &twice);
  MoveCounts reversed;
  for (const auto& [cells, n] : out) reversed[{cells.second, cells.first}] = n;
  EXPECT_EQ(in, reversed);
  EXPECT_EQ(twice, "");
}

TEST_F(RescoreTest, ANewerPublicationReplacesTheRescore) {
  std::vector<v1::Opportunity> opps = Deals(450);
  client_->Store(opps);
  const std::string strict = client_->Upload(DraftYaml("strict", "99.9"));
  const std::string loose = client_->Upload(DraftYaml("loose", "10"));
  client_->Publish(strict);
  // Updated meanwhile: the rescore goes from its new input.
  opps[1].mutable_amount()->set_units(5);
  client_->Store({opps[1]});
  // Deleted meanwhile: not brought back.
  v1::DeleteClassificationRequest del;
  v1::OpportunityDeletion* d = del.add_deletions();
  d->set_tenant_id("acme");
  d->set_opportunity_id("o2");
  v1::DeleteClassificationResponse deleted;
  ASSERT_TRUE(
      client_->classify->DeleteClassification(Context().get(), del, &deleted)
          .ok());
  // A newer publication before the first rescore ran: it replaces it.
  const int64_t second = client_->Publish(loose);
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  v1::RescoreStatus status = Status();
  EXPECT_EQ(status.id(), second);
  EXPECT_EQ(status.version(), loose);
  EXPECT_EQ(status.state(), v1::RescoreStatus::DONE);
  EXPECT_EQ(status.total(), 449);
  EXPECT_EQ(status.done(), 449);
  EXPECT_EQ(status.skipped(), 0);
  v1::Classification o1 = client_->Get("o1");
  EXPECT_EQ(o1.ruleset_version(), loose);
  EXPECT_EQ(o1.amount().units(), 5);
  v1::GetClassificationRequest get;
  get.set_tenant_id("acme");
  get.set_opportunity_id("o2");
  v1::GetClassificationResponse gone;
  EXPECT_EQ(client_->classify->GetClassification(Context().get(), get, &gone)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (const v1::Opportunity& o : opps) {
    if (o.id() == "o2") continue;
    EXPECT_EQ(client_->Get(o.id()).ruleset_version(), loose) << o.id();
  }
}

TEST_F(RescoreTest, AnotherReplicaGoesOnOnceTheLeaseRunsOut) {
  client_->Store(Deals(700));
  const std::string version = client_->Upload(DraftYaml("strict", "99.9"));
  client_->Publish(version);
  // A replica took the rescore and died before its first step.
  absl::StatusOr<std::optional<RescoreJob>> claimed =
      WaitFor<std::optional<RescoreJob>>([&](auto done) {
        rulesets_->ClaimRescoreAsync("acme", "gone", Now(), absl::Seconds(10),
                                     absl::Now() + absl::Seconds(5),
                                     std::move(done));
      });
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  // While its lease lasts nobody else runs it.
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  EXPECT_EQ(Status().owner(), "gone");
  EXPECT_EQ(Status().done(), 0);
  Advance(absl::Seconds(11));
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  v1::RescoreStatus status = Status();
  EXPECT_EQ(status.state(), v1::RescoreStatus::DONE);
  EXPECT_EQ(status.done(), 700);
}

TEST_F(RescoreTest, TheBackgroundThreadRescoresWhenWoken) {
  client_->Store(Deals(300));
  const std::string version = client_->Upload(DraftYaml("strict", "99.9"));
  rescorer_->Start();
  client_->Publish(version);
  rescorer_->Wake();
  v1::RescoreStatus status;
  const absl::Time until = absl::Now() + absl::Seconds(20);
  do {
    absl::SleepFor(absl::Milliseconds(10));
    status = Status();
  } while (status.state() != v1::RescoreStatus::DONE && absl::Now() < until);
  EXPECT_EQ(status.state(), v1::RescoreStatus::DONE);
  EXPECT_EQ(status.done(), 300);
  rescorer_->Stop();
}

TEST_F(RescoreTest, StopGivesTheLeaseUpForAnotherReplica) {
  client_->Store(Deals(250));
  const std::string version = client_->Upload(DraftYaml("strict", "99.9"));
  // This one waits an hour before it begins (its settle time), holding
  // the lease meanwhile.
  Rescorer waiting(tenants_.get(), rulesets_.get(), results_.get(),
                   Rescorer::Options{.owner = "waiting",
                                     .rate = 0,
                                     .lease = absl::Seconds(3),
                                     .poll_interval = absl::ZeroDuration(),
                                     .settle = absl::Hours(1),
                                     .clock = [this] { return Now(); }});
  waiting.Start();
  client_->Publish(version);
  waiting.Wake();
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (Status().owner() != "waiting" && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(Status().owner(), "waiting");
  ASSERT_TRUE(rescorer_->RunOnce().ok());  // not this replica's
  EXPECT_EQ(Status().done(), 0);
  waiting.Stop();
  EXPECT_EQ(Status().owner(), "");
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  EXPECT_EQ(Status().state(), v1::RescoreStatus::DONE);
  EXPECT_EQ(Status().done(), 250);
}

TEST_F(RescoreTest, MessyCrmValuesAreRescoredAsALiveCallClassifiesThem) {
  // Values people type into CRMs: names for codes, symbols, other
  // scripts, a HubSpot stage id, a long free-text label.
  std::vector<v1::Opportunity> opps;
  auto add = [&](const std::string& id, auto edit) {
    v1::Opportunity o = Opp("acme", id);
    edit(o);
    opps.push_back(std::move(o));
  };
  add("m-cn", [](v1::Opportunity& o) {
    o.set_name("华为云 ERP 二期 — 续约");
    o.mutable_account()->set_country("中国");
    o.mutable_amount()->set_currency_code("CNY");
    o.mutable_amount()->set_units(8'600'000);
  });
  add("m-us", [](v1::Opportunity& o) {
    o.mutable_account()->set_country("United States");
    o.mutable_amount()->set_currency_code("US$");
    o.set_stage("appointmentscheduled");
  });
  add("m-eu", [](v1::Opportunity& o) {
    o.mutable_amount()->set_currency_code(" eur ");
    o.mutable_account()->set_industry("Tech & Software / SaaS\n(B2B)");
  });
  add("m-long", [](v1::Opportunity& o) {
    o.set_stage(std::string(2000, 'x'));
    o.mutable_account()->set_industry("Manufacturing – Automotive Tier 1");
    (*o.mutable_attributes())["Lead Source (Sales)"] = "Trade show / Messe";
  });
  client_->Store(opps);
  const std::string version = client_->Upload(DraftYaml("strict", "99.9"));
  client_->Publish(version);
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  v1::RescoreStatus status = Status();
  EXPECT_EQ(status.done(), 4);
  EXPECT_EQ(status.skipped(), 0);
  for (const v1::Opportunity& o : opps) {
    v1::Classification stored = client_->Get(o.id());
    v1::Classification direct;
    ClassifyValidatedInto(o, *tenants_->ForTenant("acme"), Now(),
                          ClassifyOptions{.with_reasons = true}, &direct);
    EXPECT_EQ(stored.ruleset_version(), version) << o.id();
    EXPECT_EQ(stored.cell(), direct.cell()) << o.id();
    EXPECT_EQ(stored.priority_score(), direct.priority_score()) << o.id();
    EXPECT_EQ(stored.reasons_size(), direct.reasons_size()) << o.id();
  }
  // The HubSpot stage id is read as its stage, and the amount's reason
  // still names the currency as typed.
  const v1::Classification us = client_->Get("m-us");
  EXPECT_EQ(us.buying_stage(), v1::BUYING_STAGE_AWARENESS);
  bool named = false;
  for (const v1::Reason& r : us.reasons()) {
    named |=
        r.factor() == "amount" && r.detail().find("US$") != std::string::npos;
  }
  EXPECT_TRUE(named);
}

// The default ruleset renamed, with the champion, the sponsor, the contacts
// and the meetings halving every 30 days without a fresh record.
std::string DecayingYaml() {
  std::string yaml = DraftYaml("decaying", "50");
  for (const char* factor : {"contacts_engaged\n      weight: 15\n",
                             "has_champion\n      weight: 20\n",
                             "executive_sponsor\n      weight: 15\n",
                             "meetings_last_90_days\n      weight: 15\n"}) {
    const std::string from = absl::StrCat("- signal: ", factor);
    EXPECT_TRUE(absl::StrContains(yaml, from)) << factor;
    absl::StrReplaceAll(
        {{from, absl::StrCat(from, "      half_life_days: 30\n")}}, &yaml);
  }
  return yaml;
}

TEST_F(RescoreTest, ADealWithNoActivityDriftsOutOfKeyWithCauseTime) {
  const std::string version = client_->Upload(DecayingYaml());
  client_->Publish(version);
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  // Its last interaction 5 days before the start, and none since.
  client_->Store(
      {Opp("acme", "quiet"), Opp("acme", "busy"), Opp("globex", "steady")});
  ASSERT_EQ(client_->Get("quiet").cell(), "KEY");
  ASSERT_EQ(client_->Get("busy").cell(), "KEY");
  Sweeper sweeper(tenants_.get(), results_.get(),
                  {.interval = absl::ZeroDuration(),
                   .max_age = absl::Hours(24),
                   .rate = 0,
                   .clock = [this] { return Now(); }});
  // Nothing is a day old yet.
  ASSERT_TRUE(sweeper.RunOnce().ok());
  EXPECT_EQ(sweeper.stats().swept, 0);

  // Sixty days on; the busy deal was met yesterday and updated since.
  Advance(absl::Hours(24 * 59 + 12));
  v1::Opportunity busy = Opp("acme", "busy");
  busy.set_version(4);
  *busy.mutable_relationship()->mutable_last_interaction_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(Now() - absl::Hours(12)));
  client_->Store({busy});
  Advance(absl::Hours(12));
  ASSERT_TRUE(sweeper.RunOnce().ok());
  Sweeper::Stats stats = sweeper.stats();
  EXPECT_EQ(stats.swept, 2);  // quiet, and globex's deal
  EXPECT_EQ(stats.moved, 1);
  EXPECT_EQ(stats.errors, 0);

  v1::Classification quiet = client_->Get("quiet");
  EXPECT_EQ(quiet.cell(), "DEVELOP");
  EXPECT_EQ(quiet.ruleset_version(), version);
  EXPECT_EQ(absl::FromUnixSeconds(quiet.classified_time().seconds()),
            absl::FromUnixSeconds(absl::ToUnixSeconds(Now())));
  EXPECT_EQ(client_->Get("busy").cell(), "KEY");
  // The default ruleset does not decay: globex's deal cooled a little
  // (days since the last interaction) and stayed.
  v1::GetClassificationRequest get;
  get.set_tenant_id("globex");
  get.set_opportunity_id("steady");
  v1::GetClassificationResponse steady;
  ASSERT_TRUE(
      client_->classify->GetClassification(Context().get(), get, &steady).ok());
  EXPECT_EQ(steady.classification().cell(), "KEY");

  // The move is a transition whose cause is the time, and so is the
  // history's newest state; Explain shows the decayed factors.
  std::vector<v1::Transition> moves;
  for (const v1::Transition& t : client_->Transitions()) {
    if (t.opportunity_id() == "quiet") moves.push_back(t);
  }
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].from_cell(), "KEY");
  EXPECT_EQ(moves[0].to_cell(), "DEVELOP");
  EXPECT_EQ(moves[0].cause(), "time");
  EXPECT_THAT(moves[0].changed_fields(), ElementsAre());
  v1::ExplainRequest request;
  request.set_tenant_id("acme");
  request.set_opportunity_id("quiet");
  v1::ExplainResponse why;
  grpc::Status s = client_->classify->Explain(Context().get(), request, &why);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(why.causes(), ElementsAre("time"));
  std::set<std::string> fell;
  for (const v1::FactorChange& f : why.factors()) {
    if (f.delta() < 0) fell.insert(f.factor());
  }
  EXPECT_THAT(fell,
              ElementsAre("contacts_engaged", "days_since_last_interaction",
                          "executive_sponsor", "has_champion",
                          "meetings_last_90_days"));

  // Swept again at once: everything is current, nothing is written.
  const size_t transitions = client_->Transitions().size();
  ASSERT_TRUE(sweeper.RunOnce().ok());
  EXPECT_EQ(sweeper.stats().swept, stats.swept);
  EXPECT_EQ(client_->Transitions().size(), transitions);
}

TEST_F(RescoreTest, ASweepDoesNotOverwriteNewerInputNorBringBackADeletion) {
  client_->Store({Opp("acme", "kept"), Opp("acme", "gone")});
  Advance(absl::Hours(48));
  // The walk reads both; meanwhile "kept" is updated and "gone" deleted.
  InputPage page = *WaitFor<InputPage>([&](ResultStore::InputsCallback done) {
    results_->InputsAsync("acme", "", 100, Now() - absl::Hours(24),
                          absl::Now() + absl::Seconds(5), std::move(done));
  });
  ASSERT_EQ(page.entries.size(), 2u);
  v1::Opportunity kept = Opp("acme", "kept", kSmallDeal);
  kept.set_version(9);
  client_->Store({kept});
  v1::DeleteClassificationRequest del;
  del.add_deletions()->set_tenant_id("acme");
  del.mutable_deletions(0)->set_opportunity_id("gone");
  v1::DeleteClassificationResponse deleted;
  ASSERT_TRUE(
      client_->classify->DeleteClassification(Context().get(), del, &deleted)
          .ok());
  absl::StatusOr<RescoredPage> stored = RescoreEntries(
      *results_, page.entries, *tenants_->ForTenant("acme"), Now(),
      Now() - absl::Hours(24), absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->skipped, 2);
  EXPECT_EQ(client_->Get("kept").opportunity_version(), 9);
  v1::GetClassificationRequest get;
  get.set_tenant_id("acme");
  get.set_opportunity_id("gone");
  v1::GetClassificationResponse response;
  EXPECT_EQ(
      client_->classify->GetClassification(Context().get(), get, &response)
          .error_code(),
      grpc::StatusCode::NOT_FOUND);
}

// The count of `cell` in acme's stored matrix.
int64_t CellCount(Client& client, const std::string& cell) {
  v1::GetMatrixRequest request;
  request.set_tenant_id("acme");
  v1::GetMatrixResponse matrix;
  grpc::Status s =
      client.classify->GetMatrix(Context().get(), request, &matrix);
  EXPECT_TRUE(s.ok()) << s.error_message();
  for (const v1::MatrixCellSummary& c : matrix.cells()) {
    if (c.cell() == cell) return c.count();
  }
  return 0;
}

v1::PinOpportunityRequest PinRequest(const std::string& id,
                                     const std::string& cell,
                                     absl::Time until) {
  v1::PinOpportunityRequest request;
  request.set_tenant_id("acme");
  request.set_opportunity_id(id);
  request.set_cell(cell);
  request.set_reason("in a legal dispute with us: hold all investment");
  request.set_author("ana");
  *request.mutable_expire_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(until));
  return request;
}

TEST_F(RescoreTest, APinSurvivesNewDataAndARescoreThenEndsByItself) {
  client_->Store({Opp("acme", "held"), Opp("acme", "free")});
  ASSERT_EQ(client_->Get("held").cell(), "KEY");
  ASSERT_EQ(CellCount(*client_, "KEY"), 2);

  // Pinned to EXIT for a week: it moves there at once, with the pin.
  v1::PinOpportunityResponse pinned;
  grpc::Status s = client_->classify->PinOpportunity(
      Context().get(), PinRequest("held", "EXIT", Now() + absl::Hours(24 * 7)),
      &pinned);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::Classification& c = pinned.classification();
  EXPECT_EQ(c.cell(), "EXIT");
  EXPECT_EQ(c.rules_cell(), "KEY");
  EXPECT_EQ(c.action().code(),
            defaults_.Current()->proto.matrix().cells(3).action().code());
  EXPECT_EQ(c.pin().author(), "ana");
  EXPECT_EQ(c.previous_cell(), "KEY");
  EXPECT_EQ(CellCount(*client_, "KEY"), 1);
  EXPECT_EQ(CellCount(*client_, "EXIT"), 1);
  v1::Classification stored = client_->Get("held");
  EXPECT_EQ(stored.cell(), "EXIT");
  EXPECT_EQ(stored.rules_cell(), "KEY");
  EXPECT_EQ(stored.pin().reason(),
            "in a legal dispute with us: hold all investment");
  std::vector<v1::Transition> moves = client_->Transitions();
  ASSERT_FALSE(moves.empty());
  EXPECT_EQ(moves.back().from_cell(), "KEY");
  EXPECT_EQ(moves.back().to_cell(), "EXIT");
  EXPECT_EQ(moves.back().cause(), "override");

  // New data: the rules still say KEY, the pin holds, and the answer says
  // both.
  Advance(absl::Hours(1));
  v1::ClassifyRequest update;
  *update.mutable_opportunity() = Opp("acme", "held");
  update.mutable_opportunity()->set_version(4);
  update.mutable_opportunity()->mutable_amount()->set_units(1'500'000);
  v1::ClassifyResponse live;
  ASSERT_TRUE(client_->classify->Classify(Context().get(), update, &live).ok());
  EXPECT_EQ(live.classification().cell(), "EXIT");
  EXPECT_EQ(live.classification().rules_cell(), "KEY");
  EXPECT_TRUE(live.stored());
  EXPECT_EQ(client_->Get("held").opportunity_version(), 4);

  // A publication's rescore keeps the pin and reports the new rules' cell.
  const std::string version = client_->Upload(DraftYaml("strict", "99.9"));
  client_->Publish(version);
  ASSERT_TRUE(rescorer_->RunOnce().ok());
  stored = client_->Get("held");
  EXPECT_EQ(stored.ruleset_version(), version);
  EXPECT_EQ(stored.cell(), "EXIT");
  EXPECT_EQ(stored.rules_cell(), "MAINTAIN");
  EXPECT_EQ(client_->Get("free").cell(), "MAINTAIN");
  EXPECT_EQ(CellCount(*client_, "EXIT"), 1);

  // Before its expiry nothing ends; after it, the sweep puts the result
  // back where the rules put it, with cause "override".
  Sweeper sweeper(tenants_.get(), results_.get(),
                  {.interval = absl::ZeroDuration(),
                   .pin_interval = absl::ZeroDuration(),
                   .rate = 0,
                   .clock = [this] { return Now(); }});
  ASSERT_TRUE(sweeper.RunPins().ok());
  EXPECT_EQ(sweeper.stats().pins_ended, 0);
  Advance(absl::Hours(24 * 7));
  ASSERT_TRUE(sweeper.RunPins().ok());
  EXPECT_EQ(sweeper.stats().pins_ended, 1);
  stored = client_->Get("held");
  EXPECT_EQ(stored.cell(), "MAINTAIN");
  EXPECT_EQ(stored.rules_cell(), "");
  EXPECT_FALSE(stored.has_pin());
  EXPECT_EQ(CellCount(*client_, "EXIT"), 0);
  EXPECT_EQ(CellCount(*client_, "MAINTAIN"), 2);
  moves = client_->Transitions();
  EXPECT_EQ(moves.back().from_cell(), "EXIT");
  EXPECT_EQ(moves.back().to_cell(), "MAINTAIN");
  EXPECT_EQ(moves.back().cause(), "override");
  EXPECT_THAT(client_->HistoryCauses("held"),
              ElementsAre("MAINTAIN override", "EXIT ruleset", "EXIT data",
                          "EXIT override", "KEY first"));
  // Nothing is left to end.
  ASSERT_TRUE(sweeper.RunPins().ok());
  EXPECT_EQ(sweeper.stats().pins_ended, 1);
}

TEST_F(RescoreTest, UnpinPutsTheResultBackAndBadPinsNameTheirField) {
  client_->Store({Opp("acme", "held")});
  // As people type it: the cell in lower case, the reason in Chinese.
  v1::PinOpportunityRequest typed =
      PinRequest("held", "develop", Now() + absl::Hours(1));
  typed.set_reason("客户正在进行法律纠纷，暂停投入，等待法务结论");
  typed.set_author("李娜");
  v1::PinOpportunityResponse pinned;
  grpc::Status typed_status =
      client_->classify->PinOpportunity(Context().get(), typed, &pinned);
  ASSERT_TRUE(typed_status.ok()) << typed_status.error_message();
  v1::Classification held = client_->Get("held");
  EXPECT_EQ(held.cell(), "DEVELOP");
  EXPECT_EQ(held.pin().cell(), "DEVELOP");
  EXPECT_EQ(held.pin().reason(), typed.reason());
  EXPECT_EQ(held.pin().author(), "李娜");
  v1::UnpinOpportunityRequest unpin;
  unpin.set_tenant_id("acme");
  unpin.set_opportunity_id("held");
  v1::UnpinOpportunityResponse back;
  grpc::Status s =
      client_->classify->UnpinOpportunity(Context().get(), unpin, &back);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(back.classification().cell(), "KEY");
  EXPECT_FALSE(back.classification().has_pin());
  EXPECT_EQ(client_->Get("held").cell(), "KEY");
  // Again: nothing to remove, answered as it is, and nothing written.
  Advance(absl::Hours(30 * 24));
  ASSERT_TRUE(
      client_->classify->UnpinOpportunity(Context().get(), unpin, &back).ok());
  EXPECT_EQ(back.classification().cell(), "KEY");
  EXPECT_EQ(
      absl::FromUnixSeconds(back.classification().classified_time().seconds()),
      TestNow());
  // A pin to the cell the rules give moves nothing, and the history says
  // it was pinned (and unpinned) all the same.
  const size_t moves = client_->Transitions().size();
  ASSERT_TRUE(
      client_->classify
          ->PinOpportunity(Context().get(),
                           PinRequest("held", "KEY", Now() + absl::Hours(1)),
                           &pinned)
          .ok());
  EXPECT_EQ(pinned.classification().cell(), "KEY");
  EXPECT_EQ(pinned.classification().rules_cell(), "KEY");
  ASSERT_TRUE(
      client_->classify->UnpinOpportunity(Context().get(), unpin, &back).ok());
  EXPECT_EQ(client_->Transitions().size(), moves);
  EXPECT_THAT(client_->HistoryCauses("held"),
              ElementsAre("KEY override", "KEY override", "KEY override",
                          "DEVELOP override", "KEY first"));

  v1::PinOpportunityRequest bad =
      PinRequest("held", "VIP", Now() - absl::Minutes(1));
  bad.set_reason("");
  bad.set_author(std::string(300, 'a'));
  s = client_->classify->PinOpportunity(Context().get(), bad, &pinned);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s),
              ElementsAre("cell", "reason", "author", "expire_time"));
  EXPECT_THAT(s.error_message(),
              HasSubstr("must be a cell of the ruleset in force (KEY, "));
  bad = PinRequest("held", "KEY", Now() + absl::Hours(24 * 400));
  s = client_->classify->PinOpportunity(Context().get(), bad, &pinned);
  EXPECT_THAT(s.error_message(), HasSubstr("at most 366 days ahead"));
  s = client_->classify->PinOpportunity(
      Context().get(), PinRequest("nobody", "KEY", Now() + absl::Hours(1)),
      &pinned);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RescoreTest, APinOverAResultStoredSinceItsReadChangesNothing) {
  client_->Store({Opp("acme", "held")});
  // Classified from the opportunity as it was before (version 2): a newer
  // one is stored, so the pin is refused whole and the caller reads again.
  v1::Opportunity before = Opp("acme", "held");
  before.set_version(2);
  v1::Classification result;
  PutItem item = ClassifyForStore(before, *defaults_.Current(), Now(),
                                  /*with_reasons=*/true, &result);
  item.only_over_same_input = true;
  absl::StatusOr<PinOutcome> o =
      WaitFor<PinOutcome>([&](ResultStore::PinCallback done) {
        results_->PinAsync(
            {.tenant_id = "acme",
             .opportunity_id = "held",
             .cell = "EXIT",
             .expire_time = Now() + absl::Hours(1),
             .patch = ""},
            item, {.now = Now(), .keep_current_since = absl::InfiniteFuture()},
            absl::Now() + absl::Seconds(5), std::move(done));
      });
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->found);
  EXPECT_TRUE(o->changed);
  EXPECT_TRUE(o->put.superseded);
  v1::Classification stored = client_->Get("held");
  EXPECT_EQ(stored.cell(), "KEY");
  EXPECT_FALSE(stored.has_pin());
  EXPECT_EQ(stored.opportunity_version(), 3);
}

TEST_F(RescoreTest, BadRequestsNameTheirField) {
  v1::GetRescoreStatusRequest request;
  request.set_tenant_id("no spaces");
  v1::RescoreStatus status;
  grpc::Status s =
      client_->rules->GetRescoreStatus(Context().get(), request, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("tenant_id"));
}

// The port a server logged as "(port N)"; 0 if it did not start.
int LoggedPort(Subprocess& p) {
  if (!p.WaitForStderr("(port ", absl::Seconds(30))) return 0;
  std::smatch m;
  std::string err = p.Stderr();
  if (!std::regex_search(err, m, std::regex("\\(port ([0-9]+)\\)"))) return 0;
  return std::stoi(m[1]);
}

TEST(RescoreCrashTest, ResumesAfterSigkillWithNothingSkippedOrDoneTwice) {
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  auto start = [&] {
    return std::make_unique<Subprocess>(std::vector<std::string>{
        OPPMATRIX_BINARY_DIR "/services/classifier/oppmatrix-classifier",
        "--listen=127.0.0.1:0", "--redis=" + redis.url(),
        "--rules=" OPPMATRIX_SOURCE_DIR "/rules/default.yaml",
        "--rules_poll_interval=0", "--tenant_rules_poll_interval=100ms",
        "--rescore_rate=2000", "--rescore_lease=2s"});
  };
  std::unique_ptr<Subprocess> classifier = start();
  int port = LoggedPort(*classifier);
  ASSERT_GT(port, 0) << classifier->Stderr();
  auto client = std::make_unique<Client>(port);
  const int kDeals = 5000;
  client->Store(Deals(kDeals));
  const std::string version = client->Upload(DraftYaml("strict", "99.9"));
  const v1::PreviewRulesetResponse preview = client->Preview(version);
  ASSERT_EQ(preview.compared(), kDeals);
  const int64_t id = client->Publish(version);

  // Killed mid-way (2000 a second: 2.5 s for all).
  v1::RescoreStatus status;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up) {
    ASSERT_TRUE(client->Status(&status).ok());
    if (status.done() >= 1000) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  classifier->Signal(SIGKILL);
  classifier->Wait(absl::Seconds(10));
  classifier.reset();

  classifier = start();
  port = LoggedPort(*classifier);
  ASSERT_GT(port, 0) << classifier->Stderr();
  client = std::make_unique<Client>(port);
  ASSERT_TRUE(client->Status(&status).ok());
  EXPECT_EQ(status.state(), v1::RescoreStatus::RUNNING);
  EXPECT_GE(status.done(), 1000);
  EXPECT_LT(status.done(), kDeals);
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (status.state() != v1::RescoreStatus::DONE && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(100));
    ASSERT_TRUE(client->Status(&status).ok());
  }
  ASSERT_EQ(status.state(), v1::RescoreStatus::DONE) << classifier->Stderr();
  EXPECT_EQ(status.id(), id);
  // Every result once: the pages before the crash are not done again, the
  // one it interrupted is done once.
  EXPECT_EQ(status.done(), kDeals);
  EXPECT_EQ(status.total(), kDeals);
  EXPECT_EQ(status.skipped(), 0);
  // A page stored just before the kill and not yet recorded is done again
  // and writes nothing: its moves are not counted twice, maybe not at all.
  EXPECT_LE(status.moved(), preview.moved());
  EXPECT_GE(status.moved(), preview.moved() - kRescorePage);
  std::string twice;
  EXPECT_EQ(RulesetMoves(client->Transitions(), version, &twice),
            PredictedMoves(preview));
  EXPECT_EQ(twice, "");
  for (int i = 0; i < kDeals; i += 97) {
    EXPECT_EQ(client->Get(absl::StrCat("o", i)).ruleset_version(), version);
  }
  classifier->Signal(SIGTERM);
  EXPECT_EQ(classifier->Wait(absl::Seconds(20)), 0);
}

}  // namespace
}  // namespace oppmatrix
