// oppctl as a user runs it, against an in-process classifier.
#include <algorithm>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/classification_service.pb.h"
#include "oppmatrix/v1/ingestion_service.pb.h"
#include "oppmatrix/v1/ruleset_service.pb.h"
#include "services/classifier/ruleset_watcher.h"
#include "services/common/file_util.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_ruleset_store.h"
#include "services/store/redis_url.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_certs.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Subprocess;

constexpr char kOppctl[] = OPPMATRIX_BINARY_DIR "/clients/oppctl/oppctl";
constexpr char kCases[] = OPPMATRIX_SOURCE_DIR "/examples/case-study/";

class OppctlTest : public ::testing::Test {
 protected:
  std::string Target() { return "--target=" + server_.target(); }
  testing::TestClassifier server_;
};

TEST_F(OppctlTest, ClassifiesAYamlFileAsATable) {
  Subprocess p({kOppctl, Target(), "classify",
                absl::StrCat(kCases, "1-large-enterprise-decision.yaml")});
  ASSERT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  EXPECT_THAT(p.Stdout(), HasSubstr("KEY  Key: invest"));
  EXPECT_THAT(p.Stdout(), HasSubstr("DEDICATED_TEAM"));
  EXPECT_THAT(p.Stdout(), HasSubstr("LARGE_ENTERPRISE, value HIGH"));
}

TEST_F(OppctlTest, ReadsJsonFromStdinAndPrintsJson) {
  std::string json = R"({"id": "j-1", "tenant_id": "acme",
      "stage": "closedwon", "amount": {"currency_code": "USD", "units": "5000"},
      "account": {"industry": "technolgy", "customer_type": "CUSTOMER_TYPE_SME"}})";
  Subprocess p({kOppctl, Target(), "--json", "classify", "-"}, {}, json);
  ASSERT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  v1::Classification c;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(p.Stdout(), &c).ok())
      << p.Stdout();
  EXPECT_EQ(c.opportunity_id(), "j-1");
  EXPECT_EQ(c.buying_stage(), v1::BUYING_STAGE_CLOSED_WON);
  EXPECT_EQ(c.industry(), v1::INDUSTRY_TECHNOLOGY);
  EXPECT_EQ(c.priority_score(), 0);
  EXPECT_THAT(p.Stdout(), HasSubstr(R"("opportunity_id":"j-1")"));
}

TEST_F(OppctlTest, WhatIfPrintsTheSmallestChangesToTheTarget) {
  const std::string tender = absl::StrCat(kCases, "4-government-tender.yaml");
  Subprocess p({kOppctl, Target(), "whatif", tender, "--to", "KEY"});
  ASSERT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  EXPECT_THAT(p.Stdout(), HasSubstr("opp-city-smartgov is in DEVELOP"));
  EXPECT_THAT(p.Stdout(), HasSubstr("1. 3 changes, 8 steps -> KEY"));
  EXPECT_THAT(p.Stdout(),
              HasSubstr("relationship.has_champion            false -> true"));

  Subprocess json({kOppctl, Target(), "--json", "whatif", tender, "--to=KEY",
                   "--levers=meetings,champion,executive_sponsor",
                   "--max_options=1"});
  ASSERT_EQ(json.Wait(absl::Seconds(30)), 0) << json.Stderr();
  v1::WhatIfResponse r;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json.Stdout(), &r).ok())
      << json.Stdout();
  ASSERT_EQ(r.options_size(), 1);
  EXPECT_EQ(r.options(0).result().cell(), "KEY");
  for (const v1::LeverChange& c : r.options(0).changes()) {
    EXPECT_NE(c.lever(), v1::LEVER_CONTACTS);
  }

  // Already there, and out of reach: said, exit 0.
  Subprocess there({kOppctl, Target(), "whatif", tender, "--to=DEVELOP"});
  ASSERT_EQ(there.Wait(absl::Seconds(30)), 0) << there.Stderr();
  EXPECT_THAT(there.Stdout(), HasSubstr("already in DEVELOP"));
  Subprocess out_of_reach({kOppctl, Target(), "whatif",
                           absl::StrCat(kCases, "3-small-business-latent.yaml"),
                           "--to=KEY"});
  ASSERT_EQ(out_of_reach.Wait(absl::Seconds(30)), 0) << out_of_reach.Stderr();
  EXPECT_THAT(out_of_reach.Stdout(),
              HasSubstr("no change of meetings, contacts, champion, "
                        "executive_sponsor, stage reaches KEY"));
}

TEST_F(OppctlTest, WhatIfErrorsNameTheFlagOrTheField) {
  const std::string tender = absl::StrCat(kCases, "4-government-tender.yaml");
  Subprocess no_target({kOppctl, Target(), "whatif", tender});
  EXPECT_EQ(no_target.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(no_target.Stderr(), HasSubstr("--to is required"));
  Subprocess lever(
      {kOppctl, Target(), "whatif", tender, "--to=KEY", "--levers=luck"});
  EXPECT_EQ(lever.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(lever.Stderr(), HasSubstr("--levers: unknown value \"luck\""));
  Subprocess cell({kOppctl, Target(), "whatif", tender, "--to=TOP"});
  EXPECT_EQ(cell.Wait(absl::Seconds(30)), 1);
  EXPECT_THAT(cell.Stderr(),
              HasSubstr("target_cell: \"TOP\" is not a cell of ruleset"));
}

TEST_F(OppctlTest, RejectedOpportunityExitsOneNamingTheField) {
  Subprocess p({kOppctl, Target(), "classify", "-"}, {},
               "id: x\ntenant_id: acme\nprobability: .nan\n");
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 1);
  EXPECT_THAT(p.Stderr(), HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(p.Stderr(), HasSubstr("opportunity.probability: must be a "
                                    "finite number"));
}

TEST_F(OppctlTest, BadInputExitsTwoNamingTheKey) {
  Subprocess p({kOppctl, Target(), "classify", "-"}, {},
               "id: x\naccount:\n  employes: 4\n");
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(p.Stderr(), HasSubstr("account.employes: unknown key"));
}

TEST_F(OppctlTest, TargetFromTheEnvironment) {
  Subprocess p({kOppctl, "classify",
                absl::StrCat(kCases, "3-small-business-latent.yaml")},
               {"OPPMATRIX_TARGET=" + server_.target()});
  ASSERT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  EXPECT_THAT(p.Stdout(), HasSubstr("EXIT"));
}

TEST_F(OppctlTest, SeveralFilesGoInOneBatchAndShowTheMatrix) {
  std::vector<std::string> argv = {kOppctl, Target(), "classify"};
  for (const char* f :
       {"1-large-enterprise-decision.yaml", "2-sme-consideration.yaml",
        "3-small-business-latent.yaml", "4-government-tender.yaml",
        "5-existing-small-customer.yaml"}) {
    argv.push_back(absl::StrCat(kCases, f));
  }
  Subprocess p(argv);
  ASSERT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  std::string out = p.Stdout();
  // The grid: relationship rises upwards, potential to the right.
  std::string::size_type maintain = out.find("| MAINTAIN"),
                         exit = out.find("| EXIT");
  ASSERT_NE(maintain, std::string::npos) << out;
  ASSERT_NE(exit, std::string::npos) << out;
  EXPECT_LT(maintain, exit);
  EXPECT_THAT(out, HasSubstr("| KEY"));
  EXPECT_THAT(out, HasSubstr("opp-hanwei-erp (A, 100)"));
  EXPECT_THAT(out, HasSubstr("opp-city-smartgov (C, 50)"));
  EXPECT_THAT(out, HasSubstr("potential >"));
}

TEST_F(OppctlTest, BadItemInABatchIsReportedAndExitsOne) {
  std::string dir = testing::MakeTempDir();
  testing::WriteFileAtomically(dir + "/bad.yaml", "tenant_id: acme\n");
  Subprocess p({kOppctl, Target(), "classify",
                absl::StrCat(kCases, "3-small-business-latent.yaml"),
                dir + "/bad.yaml"});
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 1);
  EXPECT_THAT(p.Stderr(), HasSubstr("opportunities[1].id: is required"));
  EXPECT_THAT(p.Stdout(), HasSubstr("opp-corner-pos"));
}

// oppctl's read commands against a classifier that stores in a real Redis.
class OppctlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    redis_client_ = testing::TestRedisClient(redis_.url());
    store_ = std::make_unique<RedisResultStore>(redis_client_.get(),
                                                RedisResultStore::Options{});
    rulesets_ = std::make_unique<RedisRulesetStore>(
        redis_client_.get(), RedisRulesetStore::Options{});
    server_ = std::make_unique<testing::TestClassifier>(1000, store_.get(),
                                                        rulesets_.get());
  }

  // Runs oppctl with the target and tenant set; returns its exit code.
  int Run(std::vector<std::string> args, const std::string& stdin_text = "") {
    args.insert(args.begin(),
                {kOppctl, "--target=" + server_->target(), "--tenant=demo"});
    last_ = std::make_unique<Subprocess>(args, std::vector<std::string>{},
                                         stdin_text);
    return last_->Wait(absl::Seconds(60));
  }
  std::string Out() const { return last_->Stdout(); }
  std::string Err() const { return last_->Stderr(); }

  // `count` generated opportunities as JSONL.
  std::string Generated(int count, int seed) {
    EXPECT_EQ(Run({"generate", absl::StrCat("--count=", count),
                   absl::StrCat("--seed=", seed)}),
              0)
        << Err();
    return Out();
  }

  testing::RedisServer redis_;
  std::unique_ptr<AsyncRedis> redis_client_;
  std::unique_ptr<RedisResultStore> store_;
  std::unique_ptr<RedisRulesetStore> rulesets_;
  std::unique_ptr<testing::TestClassifier> server_;
  std::unique_ptr<Subprocess> last_;
};

// A ruleset file: the default renamed `name`, its potential cut at `cut`.
std::string WriteDraft(const std::string& name, const std::string& cut) {
  absl::StatusOr<std::string> yaml =
      ReadFileToString(OPPMATRIX_SOURCE_DIR "/rules/default.yaml");
  EXPECT_TRUE(yaml.ok());
  std::string text = absl::StrReplaceAll(
      *yaml, {{"\nname: default\n", absl::StrCat("\nname: ", name, "\n")},
              {"potential_thresholds: [50]",
               absl::StrCat("potential_thresholds: [", cut, "]")}});
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/", name, ".yaml");
  std::ofstream(path) << text;
  return path;
}

TEST_F(OppctlStoreTest, RulesUploadPreviewPublishListAndRollBack) {
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, Generated(200, 7)), 0)
      << Err();
  ASSERT_EQ(
      Run({"--author=ana", "rules", "upload", WriteDraft("strict", "90")}), 0)
      << Err();
  std::smatch m;
  const std::string uploaded = Out();
  ASSERT_TRUE(std::regex_search(uploaded, m,
                                std::regex("uploaded (strict@[0-9a-f]{12})")))
      << uploaded;
  const std::string version = m[1];
  EXPECT_THAT(uploaded, HasSubstr("not in force"));

  ASSERT_EQ(Run({"rules", "preview", version, "--max_listed=3"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr(absl::StrCat(version, " against default@")));
  EXPECT_THAT(Out(), HasSubstr("200 compared, "));
  EXPECT_THAT(Out(), HasSubstr("amount (USD)"));
  EXPECT_THAT(Out(), HasSubstr("moved, highest priority first (3 of "));
  ASSERT_EQ(Run({"--json", "rules", "preview", version}), 0) << Err();
  v1::PreviewRulesetResponse preview;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Out(), &preview).ok())
      << Out();
  EXPECT_EQ(preview.compared(), 200);
  EXPECT_GT(preview.moved(), 0);

  // Publishing rescores the stored results; --wait waits for it.
  ASSERT_EQ(Run({"--author=bo", "rules", "publish", version, "--wait"}), 0)
      << Err();
  EXPECT_THAT(Out(), HasSubstr(absl::StrCat("publish ", version,
                                            " (was the default) by bo")));
  EXPECT_THAT(Out(),
              HasSubstr(absl::StrCat("rescore 1 of tenant demo to ", version,
                                     ": done, 200 of 200, ", preview.moved(),
                                     " moved, 0 skipped, ")));
  ASSERT_EQ(Run({"rules", "status"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr(": done, 200 of 200, "));
  ASSERT_EQ(Run({"--json", "rules", "status"}), 0) << Err();
  v1::RescoreStatus rescore;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Out(), &rescore).ok())
      << Out();
  EXPECT_EQ(rescore.state(), v1::RescoreStatus::DONE);
  EXPECT_EQ(rescore.moved(), preview.moved());
  ASSERT_EQ(Run({"rules", "list"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr(absl::StrCat("tenant demo: ", version,
                                            " (its own) in force")));
  EXPECT_THAT(Out(), HasSubstr(absl::StrCat("* ", version, "  uploaded ")));
  EXPECT_THAT(Out(), HasSubstr(" by ana\n"));
  ASSERT_EQ(Run({"rules", "show", version}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("name: strict\n"));

  ASSERT_EQ(Run({"--author=cy", "rules", "rollback", "--wait"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr(absl::StrCat("rollback the default (was ",
                                            version, ") by cy")));
  EXPECT_THAT(Out(), HasSubstr("rescore 2 of tenant demo to default@"));
  EXPECT_THAT(Out(),
              HasSubstr(absl::StrCat(" (the default): done, 200 of 200, ",
                                     preview.moved(), " moved")));
  EXPECT_EQ(Run({"--author=cy", "rules", "rollback"}), 1);
  EXPECT_THAT(Err(), HasSubstr("nothing to roll back"));
  EXPECT_EQ(Run({"--author=bo", "rules", "publish", "nope@000000000000"}), 4);

  // A ruleset that does not validate is refused, naming the key.
  const std::string bad = WriteDraft("Bad Name", "50");
  EXPECT_EQ(Run({"--author=ana", "rules", "upload", bad}), 1);
  EXPECT_THAT(Err(), HasSubstr("name: must match"));
  EXPECT_EQ(Run({"--tenant=never", "rules", "status"}), 4);
  EXPECT_THAT(Err(), HasSubstr("no rescore"));
  EXPECT_EQ(Run({"rules", "upload"}), 2);
  EXPECT_THAT(Err(), HasSubstr("usage: oppctl --tenant=T rules upload FILE"));
}

TEST_F(OppctlStoreTest, ClassifiesJsonlInBatchesThenServesTheCache) {
  std::string jsonl = Generated(250, 7);
  ASSERT_EQ(Run({"classify", "--format=jsonl", "--batch_size=100", "-"}, jsonl),
            0)
      << Err();
  EXPECT_THAT(Out(), HasSubstr("classified 250 opportunities in 3 batches"));
  EXPECT_THAT(Out(), HasSubstr("250 stored, 0 from the cache, 0 rejected"));
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, jsonl), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("250 stored, 250 from the cache"));
}

TEST_F(OppctlStoreTest, MatrixGetListAndTransitions) {
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, Generated(200, 7)), 0)
      << Err();

  // Not a terminal: plain text, one block per cell.
  ASSERT_EQ(Run({"matrix"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("tenant demo, 200 opportunities, ruleset "
                               "default@"));
  EXPECT_THAT(Out(), ::testing::ContainsRegex(
                         "KEY +Key: invest +[0-9]+ opportunities"));
  EXPECT_THAT(Out(), ::testing::Not(HasSubstr("potential >")));
  // The boxed grid on demand.
  ASSERT_EQ(Run({"matrix", "--style=grid"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("KEY  Key: invest"));
  EXPECT_THAT(Out(), HasSubstr("potential >"));

  ASSERT_EQ(Run({"matrix", "--json", "--top=0"}), 0) << Err();
  v1::GetMatrixResponse m;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Out(), &m).ok());
  int64_t total = 0, key = 0;
  for (const auto& cell : m.cells()) {
    total += cell.count();
    if (cell.cell() == "KEY") key = cell.count();
  }
  EXPECT_EQ(total, 200);
  ASSERT_GT(key, 0);

  // Every KEY opportunity once, over pages of 7.
  ASSERT_EQ(Run({"list", "--cell=KEY", "--page_size=7", "--all"}), 0) << Err();
  std::string listed = Out();
  EXPECT_EQ(std::count(listed.begin(), listed.end(), '\n'), key);
  EXPECT_THAT(listed, HasSubstr(" KEY "));
  EXPECT_THAT(listed, ::testing::Not(HasSubstr(" EXIT ")));

  ASSERT_EQ(Run({"get", "opp-000001"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("opp-000001  (tenant demo, version 1)"));
  EXPECT_EQ(Run({"get", "opp-999999"}), 4);  // not found
  EXPECT_THAT(Err(), HasSubstr("NOT_FOUND"));

  // The same ids with other content: some move, and the moves are listed.
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, Generated(200, 8)), 0)
      << Err();
  ASSERT_EQ(Run({"transitions", "--page_size=500"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr(" -> "));
  EXPECT_THAT(Out(), ::testing::Not(HasSubstr("more:")));
}

TEST_F(OppctlStoreTest, HistoryListsEachStateWithItsCauseAndTheTrend) {
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, Generated(50, 7)), 0)
      << Err();
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, Generated(50, 8)), 0)
      << Err();
  // An opportunity whose second week moved it (a transition lists it).
  ASSERT_EQ(Run({"transitions", "--page_size=1"}), 0) << Err();
  std::smatch m;
  const std::string moves = Out();
  ASSERT_TRUE(std::regex_search(moves, m, std::regex("(opp-\\d+)"))) << moves;
  const std::string id = m[1];
  // The move names the input fields the new week changed.
  EXPECT_TRUE(std::regex_search(
      moves,
      std::regex("  data: [a-z0-9_.]+(, [a-z0-9_.]+)*( and [0-9]+ more)?\n")))
      << moves;
  ASSERT_EQ(Run({"history", id}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("changed: "));
  EXPECT_THAT(Out(), HasSubstr(id + " is in "));
  EXPECT_THAT(Out(), HasSubstr("2 states, newest first"));
  EXPECT_THAT(Out(), HasSubstr("  data\n"));
  EXPECT_THAT(Out(), HasSubstr("  first\n"));
  ASSERT_EQ(Run({"--json", "history", id}), 0) << Err();
  v1::GetHistoryResponse h;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Out(), &h).ok())
      << Out();
  ASSERT_EQ(h.entries_size(), 2);
  EXPECT_NE(h.entries(0).cell(), h.entries(1).cell());
  // Two states: the trend follows their priorities, 5 points either way.
  const double change =
      h.entries(0).priority_score() - h.entries(1).priority_score();
  EXPECT_EQ(h.trend(), change >= 5    ? v1::TREND_IMPROVING
                       : change <= -5 ? v1::TREND_DECLINING
                                      : v1::TREND_STEADY);
  EXPECT_EQ(Run({"history", "opp-999999"}), 4);  // not found
  EXPECT_EQ(Run({"history"}), 2);

  // Explain: the two states, what moved, and each factor before and after.
  ASSERT_EQ(Run({"explain", id}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("from entry 1 "));
  EXPECT_THAT(Out(), HasSubstr("to   entry 0 "));
  EXPECT_THAT(Out(), HasSubstr("cause: data\n"));
  EXPECT_THAT(Out(), HasSubstr("  Moved from " + h.entries(1).cell() + " to " +
                               h.entries(0).cell() + "\n"));
  EXPECT_THAT(Out(), HasSubstr("Changed in the CRM: "));
  EXPECT_THAT(Out(), HasSubstr("factor"));
  EXPECT_THAT(Out(), HasSubstr("change"));
  ASSERT_EQ(Run({"--json", "explain", id, "--entries=0,1"}), 0) << Err();
  v1::ExplainResponse why;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Out(), &why).ok())
      << Out();
  EXPECT_FALSE(why.factors().empty());
  EXPECT_NEAR(why.priority_delta(), change, 1e-9);
  EXPECT_EQ(Run({"explain", id, "--entries=0,5"}), 1) << Out();
  EXPECT_THAT(Err(), HasSubstr("FAILED_PRECONDITION"));
  EXPECT_EQ(Run({"explain", id, "--entries=x"}), 2);
  EXPECT_EQ(Run({"explain"}), 2);

  // Pin: the stored result goes to the cell and shows the pin; unpin puts
  // it back where the rules put it.
  ASSERT_EQ(Run({"pin", id, "--cell=EXIT", "--reason=legal dispute",
                 "--until=2027-01-31T00:00:00Z", "--author=ana"}),
            0)
      << Err();
  EXPECT_THAT(Out(), HasSubstr("EXIT  Exit"));
  EXPECT_THAT(Out(), HasSubstr("pinned        by ana at "));
  EXPECT_THAT(Out(), HasSubstr("until 2027-01-31T00:00:00Z; the rules say " +
                               h.entries(0).cell() + "\n"));
  EXPECT_THAT(Out(), HasSubstr("legal dispute\n"));
  ASSERT_EQ(Run({"--json", "get", id}), 0) << Err();
  v1::Classification pinned;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Out(), &pinned).ok())
      << Out();
  EXPECT_EQ(pinned.cell(), "EXIT");
  EXPECT_EQ(pinned.rules_cell(), h.entries(0).cell());
  EXPECT_EQ(pinned.pin().reason(), "legal dispute");
  ASSERT_EQ(Run({"unpin", id}), 0) << Err();
  EXPECT_THAT(Out(), Not(HasSubstr("pinned")));
  ASSERT_EQ(Run({"--json", "get", id}), 0) << Err();
  EXPECT_THAT(Out(), Not(HasSubstr("\"pin\"")));
  EXPECT_EQ(Run({"pin", id, "--cell=EXIT", "--reason=x", "--until=soon"}), 2);
  EXPECT_THAT(Err(), HasSubstr("--until: \"soon\" is neither a time"));
  EXPECT_EQ(Run({"pin", id, "--cell=NOPE", "--reason=x", "--until=1h",
                 "--author=ana"}),
            1);
  EXPECT_THAT(Err(), HasSubstr("cell: must be a cell of the ruleset in force"));
  EXPECT_EQ(Run({"unpin"}), 2);
}

TEST_F(OppctlStoreTest, AccountShowsItsCellAndItsOpenDeals) {
  ASSERT_EQ(
      Run({"classify", std::string(kCases) + "1-large-enterprise-decision.yaml",
           std::string(kCases) + "4-government-tender.yaml"}),
      0)
      << Err();
  ASSERT_EQ(Run({"account", "acc-hanwei"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("account acc-hanwei (tenant demo): 1 "
                               "opportunity, 1 open"));
  EXPECT_THAT(Out(), HasSubstr("cell          KEY  Key: invest"));
  EXPECT_THAT(Out(), HasSubstr("opp-hanwei-erp"));
  ASSERT_EQ(Run({"--json", "account", "acc-city"}), 0) << Err();
  v1::GetAccountResponse a;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Out(), &a).ok())
      << Out();
  EXPECT_EQ(a.cell(), "DEVELOP");
  EXPECT_EQ(Run({"account", "acc-none"}), 4);
  EXPECT_EQ(Run({"account"}), 2);
}

TEST_F(OppctlStoreTest, ClassifiesCsvInBatches) {
  const std::string csv =
      "id,tenant_id,name,stage,amount,account.industry,account.employees\n"
      "csv-1,demo,\"ERP, phase 2\",Negotiation/Review,1200000 CNY,"
      "manufacturing,3000\n"
      "csv-2,demo,Shop POS,Prospecting,3000 USD,Retail,8\n";
  ASSERT_EQ(Run({"classify", "--format=csv", "--batch_size=1", "-"}, csv), 0)
      << Err();
  EXPECT_THAT(Out(), HasSubstr("classified 2 opportunities in 2 batches"));
  ASSERT_EQ(Run({"get", "csv-1"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("DECISION"));
  EXPECT_EQ(Run({"classify", "--format=csv", "-"}, "id,colour\nx,red\n"), 2);
  EXPECT_THAT(Err(), HasSubstr("<stdin>:2: colour: unknown key"));
}

TEST_F(OppctlStoreTest, MatrixAsAnSvgPicture) {
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, Generated(120, 9)), 0)
      << Err();
  const std::string svg = testing::MakeTempDir() + "/matrix.svg";
  ASSERT_EQ(Run({"matrix", "--svg=" + svg}), 0) << Err();
  EXPECT_THAT(Err(), HasSubstr("120 of 120 opportunities"));
  // Valid XML, by libxml2's own checker.
  Subprocess lint({"/usr/bin/xmllint", "--noout", svg});
  EXPECT_EQ(lint.Wait(absl::Seconds(30)), 0) << lint.Stderr();
  // Every opportunity is a dot; the title names the tenant and ruleset.
  ASSERT_EQ(Run({"matrix", "--svg=-"}), 0) << Err();
  std::string text = Out();
  size_t dots = 0;
  for (size_t at = text.find("<circle"); at != std::string::npos;
       at = text.find("<circle", at + 1)) {
    ++dots;
  }
  EXPECT_GE(dots, 120u);  // plus the legend's
  EXPECT_THAT(text, HasSubstr("tenant demo"));
  EXPECT_THAT(text, HasSubstr("ruleset default@"));
  // A cap draws fewer, and says so.
  ASSERT_EQ(Run({"matrix", "--svg=" + svg, "--svg_max_points=40"}), 0);
  EXPECT_THAT(Err(), ::testing::ContainsRegex("wrote .*: 4[0-3] of 120"));
}

TEST_F(OppctlStoreTest, WatchPrintsNewMovesAsTheyHappen) {
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, Generated(100, 7)), 0)
      << Err();
  // Reclassify with other data: some opportunities change cell.
  std::string later = Generated(100, 8);
  std::vector<std::string> args = {kOppctl,
                                   "--target=" + server_->target(),
                                   "--tenant=demo",
                                   "watch",
                                   "--interval=100ms",
                                   "--max_moves=3"};
  Subprocess watch(args);
  // It has looked once (no moves yet) before the moves happen.
  ASSERT_TRUE(watch.WaitForStderr("watching tenant demo", absl::Seconds(30)));
  ASSERT_EQ(Run({"classify", "--format=jsonl", "-"}, later), 0) << Err();
  ASSERT_EQ(watch.Wait(absl::Seconds(60)), 0) << watch.Stderr();
  const std::string moves = watch.Stdout();
  EXPECT_EQ(std::count(moves.begin(), moves.end(), '\n'), 3) << moves;
  EXPECT_THAT(moves, HasSubstr(" -> "));
}

TEST_F(OppctlStoreTest, UsageErrorsExitTwo) {
  Subprocess no_tenant({kOppctl, "--target=" + server_->target(), "matrix"});
  EXPECT_EQ(no_tenant.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(no_tenant.Stderr(), HasSubstr("--tenant"));
  EXPECT_EQ(Run({"list"}), 2);  // no --cell
  EXPECT_EQ(Run({"--bogus", "matrix"}), 2);
  EXPECT_THAT(Err(), HasSubstr("unknown flag --bogus"));
  EXPECT_EQ(Run({"matrix", "--top=many"}), 2);
  EXPECT_EQ(Run({"matrix", "--stage=sideways"}), 2);
  EXPECT_THAT(Err(), HasSubstr("--stage: unknown value \"sideways\""));
  EXPECT_EQ(Run({"classify", "--format=jsonl", "-"}, "{not json\n"), 2);
  EXPECT_THAT(Err(), HasSubstr("<stdin>:1"));
}

TEST_F(OppctlStoreTest, RedisDownMakesReadsExitThree) {
  redis_.Kill();
  EXPECT_EQ(Run({"matrix"}), 3);
  EXPECT_THAT(Err(), HasSubstr("result store is unavailable"));
}

// The ingestion service (push only) on the test's Redis, for `oppctl dlq`:
// the flag that points oppctl at it. oppctl itself gets no --redis.
std::string StartIngestion(testing::RedisServer& redis,
                           std::unique_ptr<Subprocess>& process) {
  process = std::make_unique<Subprocess>(std::vector<std::string>{
      OPPMATRIX_BINARY_DIR "/services/ingestion/oppmatrix-ingestion",
      "--listen=127.0.0.1:0", "--redis=" + redis.url(), "--ingest=false"});
  if (!process->WaitForStderr("(port ", absl::Seconds(30))) return "";
  std::smatch m;
  std::string err = process->Stderr();
  if (!std::regex_search(err, m, std::regex("\\(port ([0-9]+)\\)"))) {
    return "";
  }
  return absl::StrCat("--ingestion=127.0.0.1:", m[1].str());
}

TEST_F(OppctlStoreTest, DeadLettersAreListedAndReplayed) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(redis_
                    .Command({"XADD", "oppmatrix:crm-events:dead", "*", "event",
                              absl::StrCat("{\"n\":", i, "}"), "reason",
                              absl::StrCat("invalid: reason ", i), "deliveries",
                              "1", "source_id", "1-1", "time", "1795435200000"})
                    .ok());
  }
  std::unique_ptr<Subprocess> ingestion_process;
  const std::string ingestion = StartIngestion(redis_, ingestion_process);
  ASSERT_FALSE(ingestion.empty()) << ingestion_process->Stderr();
  ASSERT_EQ(Run({ingestion, "dlq", "list"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("reason: invalid: reason 2"));
  EXPECT_THAT(Out(), HasSubstr("event:  {\"n\":0}"));
  ASSERT_EQ(Run({ingestion, "--json", "dlq", "list", "--count=1"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("\"reason\":\"invalid: reason 0\""));
  // The event as bytes: base64 in JSON (protobuf's JSON mapping).
  EXPECT_THAT(Out(), HasSubstr("\"event\":\"eyJuIjowfQ==\""));
  EXPECT_THAT(Err(), HasSubstr("more: --page_token="));

  auto first = redis_.Command(
      {"XRANGE", "oppmatrix:crm-events:dead", "-", "+", "COUNT", "1"});
  std::string id = first->elements[0].elements[0].str;
  ASSERT_EQ(Run({ingestion, "dlq", "replay", id}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("replayed 1 of 1"));
  EXPECT_EQ(redis_.Command({"XLEN", "oppmatrix:crm-events:dead"})->integer, 2);
  EXPECT_EQ(redis_.Command({"XLEN", "oppmatrix:crm-events"})->integer, 1);
  ASSERT_EQ(Run({ingestion, "dlq", "replay", "--all"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("replayed 2 of 2"));
  EXPECT_EQ(redis_.Command({"XLEN", "oppmatrix:crm-events"})->integer, 3);
  // Replayed entries leave the dead letters: nothing more to replay.
  ASSERT_EQ(Run({ingestion, "--json", "dlq", "replay", "--all"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("\"replayed\":\"0\""));      // int64: a string
  EXPECT_EQ(Run({ingestion, "dlq", "replay", "99-0"}), 4);  // no such entry
  EXPECT_THAT(Err(), HasSubstr("NOT_FOUND"));
  EXPECT_EQ(Run({ingestion, "dlq", "replay", "not-an-id"}), 1);  // refused
  EXPECT_THAT(Err(), HasSubstr("ids[0]"));
  EXPECT_EQ(Run({ingestion, "dlq"}), 2);
  // The ingestion service down: unavailable, exit 3.
  ingestion_process.reset();
  EXPECT_EQ(Run({ingestion, "--timeout=500ms", "dlq", "list"}), 3);
}

TEST_F(OppctlStoreTest, DeadLetterSummaryGroupsByReason) {
  std::unique_ptr<Subprocess> ingestion_process;
  const std::string ingestion = StartIngestion(redis_, ingestion_process);
  ASSERT_FALSE(ingestion.empty()) << ingestion_process->Stderr();
  ASSERT_EQ(Run({ingestion, "dlq", "summary"}), 0) << Err();
  EXPECT_EQ(Out(), "the dead-letter stream is empty\n");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        redis_
            .Command({"XADD", "oppmatrix:crm-events:dead", "*", "event",
                      absl::StrCat("{\"eventId\":\"ev-", i, "\"}"), "reason",
                      i < 3 ? absl::StrCat("invalid: version: must be "
                                           "positive, got ",
                                           -i)
                            : "unparseable: not JSON",
                      "time", absl::StrCat(1795435200000 + i * 1000)})
            .ok());
  }
  ASSERT_EQ(Run({ingestion, "dlq", "summary"}), 0) << Err();
  EXPECT_THAT(Out(), HasSubstr("5 dead letters, 2 reasons\n"));
  EXPECT_THAT(Out(),
              HasSubstr("     3  invalid: version: must be positive, got N\n"
                        "        first 2026-11-23T12:00:00Z  last "
                        "2026-11-23T12:00:02Z\n"));
  EXPECT_THAT(Out(), HasSubstr("(event ev-0): invalid: version: must be "
                               "positive, got 0\n"));
  EXPECT_THAT(Out(), HasSubstr("     2  unparseable: not JSON\n"));
  ASSERT_EQ(Run({ingestion, "--json", "dlq", "summary"}), 0) << Err();
  v1::SummarizeDeadLettersResponse json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(Out(), &json).ok())
      << Out();
  EXPECT_EQ(json.entries(), 5);
  ASSERT_EQ(json.groups_size(), 2);
  EXPECT_EQ(json.groups(0).count(), 3);
  EXPECT_EQ(Run({ingestion, "dlq", "summary", "extra"}), 2);
  EXPECT_EQ(Run({ingestion, "--max_entries=0", "dlq", "summary"}), 2);
}

TEST(OppctlStandaloneTest, UnreachableServerExitsThree) {
  Subprocess p({kOppctl, "--target=127.0.0.1:1", "--timeout=300ms", "classify",
                absl::StrCat(kCases, "3-small-business-latent.yaml")});
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 3) << p.Stderr();
}

TEST(OppctlStandaloneTest, RulesCheck) {
  Subprocess good(
      {kOppctl, "rules", "check", OPPMATRIX_SOURCE_DIR "/rules/default.yaml"});
  EXPECT_EQ(good.Wait(absl::Seconds(30)), 0) << good.Stderr();
  EXPECT_THAT(good.Stdout(), HasSubstr("OK, version default@"));
  Subprocess usage({kOppctl, "frobnicate"});
  EXPECT_EQ(usage.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(usage.Stderr(), HasSubstr("unknown command"));
}

TEST(OppctlStandaloneTest, EveryCommandHasHelp) {
  for (const char* command :
       {"classify", "get", "list", "matrix", "transitions", "watch", "generate",
        "rules", "status", "dlq"}) {
    Subprocess p({kOppctl, command, "--help"});
    ASSERT_EQ(p.Wait(absl::Seconds(30)), 0) << command << p.Stderr();
    EXPECT_THAT(p.Stdout(), HasSubstr("usage: oppctl [flags] ")) << command;
    EXPECT_THAT(p.Stdout(), HasSubstr("exit codes:")) << command;
    EXPECT_THAT(p.Stdout(), HasSubstr("--target")) << command;
  }
  Subprocess all({kOppctl, "help"});
  ASSERT_EQ(all.Wait(absl::Seconds(30)), 0);
  EXPECT_THAT(all.Stdout(), HasSubstr("rules diff OLD NEW"));
  Subprocess one({kOppctl, "help", "matrix"});
  ASSERT_EQ(one.Wait(absl::Seconds(30)), 0);
  EXPECT_THAT(one.Stdout(), HasSubstr("--svg_max_points"));
}

TEST(OppctlStandaloneTest, RulesDiffCountsTheMoves) {
  const std::string dir = testing::MakeTempDir();
  // The same ruleset with the potential cut at 60 instead of 50.
  Subprocess sed({"/bin/sed",
                  "s/potential_thresholds: \\[50\\]/"
                  "potential_thresholds: [60]/",
                  OPPMATRIX_SOURCE_DIR "/rules/default.yaml"});
  ASSERT_EQ(sed.Wait(absl::Seconds(30)), 0);
  ASSERT_THAT(sed.Stdout(), HasSubstr("potential_thresholds: [60]"));
  testing::WriteFileAtomically(dir + "/new.yaml", sed.Stdout());
  Subprocess gen({kOppctl, "--tenant=t", "generate", "--count=300"});
  ASSERT_EQ(gen.Wait(absl::Seconds(30)), 0);
  Subprocess diff(
      {kOppctl, "--json", "rules", "diff",
       OPPMATRIX_SOURCE_DIR "/rules/default.yaml", dir + "/new.yaml", "-"},
      {}, gen.Stdout());
  ASSERT_EQ(diff.Wait(absl::Seconds(30)), 0) << diff.Stderr();
  google::protobuf::Struct report;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(diff.Stdout(), &report).ok())
      << diff.Stdout();
  const auto& f = report.fields();
  EXPECT_EQ(f.at("compared").number_value(), 300);
  const double changed = f.at("changed_cell").number_value();
  EXPECT_GT(changed, 0);
  // A higher potential cut only moves KEY->MAINTAIN and DEVELOP->EXIT.
  double summed = 0;
  for (const auto& m : f.at("moves").list_value().values()) {
    const auto& mf = m.struct_value().fields();
    const std::string move =
        mf.at("from").string_value() + "->" + mf.at("to").string_value();
    EXPECT_TRUE(move == "KEY->MAINTAIN" || move == "DEVELOP->EXIT") << move;
    summed += mf.at("count").number_value();
  }
  EXPECT_EQ(summed, changed);
  // The same ruleset moves nothing; the headline says so.
  Subprocess same(
      {kOppctl, "rules", "diff", OPPMATRIX_SOURCE_DIR "/rules/default.yaml",
       OPPMATRIX_SOURCE_DIR "/rules/default.yaml", "-"},
      {}, gen.Stdout());
  ASSERT_EQ(same.Wait(absl::Seconds(30)), 0) << same.Stderr();
  EXPECT_THAT(same.Stdout(),
              HasSubstr("0 opportunities change cell (of 300 compared)"));
}

TEST(OppctlStandaloneTest, TlsAndTokenFlags) {
  testing::TestCerts certs = testing::MakeTestCerts();
  ASSERT_FALSE(certs.ca_cert.empty());
  StaticRulesetSource rules(testing::DefaultRules());
  ClassifierServer::Options options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = certs.server_cert;
  options.tls_key_file = certs.server_key;
  options.auth_token = "s3cret";
  auto server = ClassifierServer::Start(options, &rules, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string target = absl::StrCat("localhost:", (*server)->port());
  const std::string input =
      absl::StrCat(kCases, "3-small-business-latent.yaml");
  Subprocess ok({kOppctl, "--target=" + target,
                 "--tls_ca_file=" + certs.ca_cert, "classify", input},
                {"OPPMATRIX_TOKEN=s3cret"});
  EXPECT_EQ(ok.Wait(absl::Seconds(30)), 0) << ok.Stderr();
  EXPECT_THAT(ok.Stdout(), HasSubstr("EXIT"));
  Subprocess no_token({kOppctl, "--target=" + target,
                       "--tls_ca_file=" + certs.ca_cert, "classify", input});
  EXPECT_EQ(no_token.Wait(absl::Seconds(30)), 5) << no_token.Stderr();
  EXPECT_THAT(no_token.Stderr(), HasSubstr("UNAUTHENTICATED"));
  Subprocess bad_file({kOppctl, "--target=" + target,
                       "--tls_ca_file=/nonexistent.pem", "classify", input});
  EXPECT_EQ(bad_file.Wait(absl::Seconds(30)), 2);
  EXPECT_THAT(bad_file.Stderr(), HasSubstr("/nonexistent.pem"));
}

}  // namespace
}  // namespace oppmatrix
