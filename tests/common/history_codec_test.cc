// The compact forms a stored result keeps for explaining changes: field
// digests that name what changed, contributions and factor names.
#include "services/common/history_codec.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/hash_util.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The field paths whose digests differ, as the store's script finds them.
std::vector<std::string> Changed(const v1::Opportunity& a,
                                 const v1::Opportunity& b) {
  std::map<std::string, std::string> da, db;
  for (absl::string_view e : absl::StrSplit(FieldDigests(DeterministicBytes(a)),
                                            ';', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(e, ':');
    da.insert(kv);
  }
  for (absl::string_view e : absl::StrSplit(FieldDigests(DeterministicBytes(b)),
                                            ';', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(e, ':');
    db.insert(kv);
  }
  std::string numbers;
  for (const auto& [k, v] : da) {
    if (db.count(k) == 0 || db[k] != v) absl::StrAppend(&numbers, k, ",");
  }
  for (const auto& [k, v] : db) {
    if (da.count(k) == 0) absl::StrAppend(&numbers, k, ",");
  }
  return FieldPathNames(numbers);
}

v1::Opportunity Deal() {
  v1::Opportunity o;
  o.set_id("006Dn000004XyZ");
  o.set_tenant_id("acme");
  o.set_version(7);
  o.set_stage("Negotiation/Review");
  o.mutable_amount()->set_currency_code("EUR");
  o.mutable_amount()->set_units(90000);
  o.mutable_account()->set_industry("Technologie");
  o.mutable_account()->set_country("Deutschland");
  o.mutable_relationship()->set_has_champion(true);
  o.mutable_relationship()->set_meetings_last_90_days(3);
  (*o.mutable_attributes())["hs_lead_status"] = "OPEN_DEAL";
  return o;
}

TEST(FieldDigestsTest, NameTheFieldsThatChangedAndOnlyThose) {
  v1::Opportunity a = Deal();
  v1::Opportunity b = a;
  // The id, tenant and version are not inputs that changed.
  b.set_version(8);
  EXPECT_THAT(Changed(a, b), IsEmpty());
  b.mutable_relationship()->set_has_champion(false);  // gone from the bytes
  b.mutable_relationship()->set_contacts_engaged(2);  // new
  b.mutable_account()->set_country("DE");
  (*b.mutable_attributes())["hs_deal_stage_probability"] = "0.6";
  b.mutable_amount()->set_nanos(500000000);
  EXPECT_THAT(Changed(a, b),
              ElementsAre("account.country", "amount", "attributes",
                          "relationship.contacts_engaged",
                          "relationship.has_champion"));
}

TEST(FieldDigestsTest, GarbageGivesWhatParsedAndNoCrash) {
  std::string bytes = DeterministicBytes(Deal());
  const std::string whole = FieldDigests(bytes);
  EXPECT_LE(FieldDigests(bytes.substr(0, bytes.size() - 3)).size(),
            whole.size());
  EXPECT_EQ(FieldDigests(""), "");
  EXPECT_EQ(FieldDigests(std::string("\xff\xff\xff\xff\xff\xff", 6)), "");
}

TEST(FieldPathNamesTest, UnknownNumbersStayVisible) {
  EXPECT_THAT(
      FieldPathNames("13.2,6,99,12.x,,6"),
      ElementsAre("#12.x", "#99", "amount", "relationship.has_champion"));
  EXPECT_THAT(FieldPathNames(""), IsEmpty());
}

TEST(ContributionsTest, RoundTripWithLabelsPeopleWrite) {
  const std::vector<std::string> p = {"amount", "Budget; 2026, Q1 | 50%"};
  const std::vector<std::string> r = {"Champion\n(signed)", "客户关系"};
  const std::string names = EncodeFactorNames(p, r);
  EXPECT_EQ(names.find('|'), std::string::npos);
  EXPECT_EQ(names.find('\n'), std::string::npos);
  const std::string values = EncodeContributions({12.5, -3}, {10, 0});
  EXPECT_EQ(values, "12.5,-3;10,0");
  std::vector<v1::Reason> out = DecodeContributions(names, values);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[1].factor(), "Budget; 2026, Q1 | 50%");
  EXPECT_EQ(out[1].axis(), v1::AXIS_POTENTIAL);
  EXPECT_EQ(out[1].contribution(), -3);
  EXPECT_EQ(out[2].factor(), "Champion\n(signed)");
  EXPECT_EQ(out[2].axis(), v1::AXIS_RELATIONSHIP);
  EXPECT_EQ(out[3].factor(), "客户关系");
}

TEST(ContributionsTest, MismatchesAndGarbageDecodeToNothing) {
  const std::string names = EncodeFactorNames({"a", "b"}, {"c"});
  EXPECT_THAT(DecodeContributions(names, "1;2"), IsEmpty());        // counts
  EXPECT_THAT(DecodeContributions(names, "1,2,3"), IsEmpty());      // no ';'
  EXPECT_THAT(DecodeContributions(names, "1,x;2"), IsEmpty());      // number
  EXPECT_THAT(DecodeContributions("a%4,b;c", "1,2;3"), IsEmpty());  // escape
  EXPECT_THAT(DecodeContributions("a%zz,b;c", "1,2;3"), IsEmpty());
  EXPECT_EQ(DecodeContributions(";", ";").size(), 0u);
  EXPECT_EQ(DecodeContributions(names, "1,2;3").size(), 3u);
}

}  // namespace
}  // namespace oppmatrix
