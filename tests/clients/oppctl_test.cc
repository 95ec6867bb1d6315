// oppctl as a user runs it, against an in-process classifier.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/classification.pb.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
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

}  // namespace
}  // namespace oppmatrix
