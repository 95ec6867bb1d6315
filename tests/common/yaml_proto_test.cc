// Tests of the YAML to protobuf mapping, on the messages it serves:
// oppmatrix.v1.Opportunity and oppmatrix.v1.Ruleset.
#include "services/common/yaml_proto.h"

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "oppmatrix/v1/ruleset.pb.h"
#include "yaml-cpp/yaml.h"

namespace oppmatrix {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::MatchesRegex;
using v1::Opportunity;
using v1::Ruleset;

template <typename T>
T Text(const std::string& text) {
  T message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message))
      << text;
  return message;
}

// Parses `yaml` onto a T; a mapping error fails the test.
template <typename T>
T Parse(const std::string& yaml) {
  T message;
  absl::Status status = ParseYamlToMessage(yaml, &message);
  EXPECT_TRUE(status.ok()) << status << "\n" << yaml;
  return message;
}

// The INVALID_ARGUMENT message of parsing `yaml` onto a T; "OK" or another
// code fails the test.
template <typename T>
std::string Error(const std::string& yaml) {
  T message;
  absl::Status status = ParseYamlToMessage(yaml, &message);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << yaml;
  return std::string(status.message());
}

#define EXPECT_PROTO_EQ(actual, expected)                       \
  EXPECT_TRUE(MessageDifferencer::Equals((actual), (expected))) \
      << "actual:\n"                                            \
      << (actual).DebugString() << "expected:\n"                \
      << (expected).DebugString()

TEST(YamlProtoTest, NestedMessages) {
  Opportunity opp = Parse<Opportunity>(R"yaml(
id: opp-1
tenant_id: acme
version: 3
amount: {currency_code: EUR, units: 125000, nanos: 500000000}
account:
  name: Müller GmbH
  employees: 850
  annual_revenue:
    currency_code: EUR
    units: 90000000
relationship:
  contacts_engaged: 4
)yaml");
  EXPECT_PROTO_EQ(
      opp, Text<Opportunity>(R"pb(
        id: "opp-1"
        tenant_id: "acme"
        version: 3
        amount { currency_code: "EUR" units: 125000 nanos: 500000000 }
        account {
          name: "Müller GmbH"
          employees: 850
          annual_revenue { currency_code: "EUR" units: 90000000 }
        }
        relationship { contacts_engaged: 4 }
      )pb"));
}

TEST(YamlProtoTest, LowerCamelCaseKeys) {
  Opportunity opp = Parse<Opportunity>(
      "tenantId: acme\naccount: {customerType: sme}\n"
      "relationship: {hasChampion: true}\n");
  EXPECT_EQ(opp.tenant_id(), "acme");
  EXPECT_EQ(opp.account().customer_type(), v1::CUSTOMER_TYPE_SME);
  EXPECT_TRUE(opp.relationship().has_champion());
}

TEST(YamlProtoTest, Maps) {
  Opportunity opp = Parse<Opportunity>(R"yaml(
attributes:
  source: webinar
  "region": EMEA
  123: numeric key
  empty: ""
)yaml");
  ASSERT_EQ(opp.attributes_size(), 4);
  EXPECT_EQ(opp.attributes().at("source"), "webinar");
  EXPECT_EQ(opp.attributes().at("region"), "EMEA");
  EXPECT_EQ(opp.attributes().at("123"), "numeric key");
  EXPECT_EQ(opp.attributes().at("empty"), "");

  Ruleset rules = Parse<Ruleset>("currency_rates: {EUR: 1.08, JPY: 0.0067}\n");
  ASSERT_EQ(rules.currency_rates_size(), 2);
  EXPECT_DOUBLE_EQ(rules.currency_rates().at("EUR"), 1.08);
  EXPECT_DOUBLE_EQ(rules.currency_rates().at("JPY"), 0.0067);
}

TEST(YamlProtoTest, RepeatedFields) {
  Ruleset rules = Parse<Ruleset>(R"yaml(
stages:
  - stage: AWARENESS
    aliases: [Prospecting, "Qualification"]
  - stage: DECISION
    aliases:
      - Negotiation/Review
      - 商务谈判
matrix:
  potential_thresholds: [50, 75.5]
  relationship_thresholds: []
potential:
  factors:
    - signal: amount
      curve: [{at: 0, score: 0}, {at: 100, score: 1}]
)yaml");
  EXPECT_PROTO_EQ(rules, Text<Ruleset>(R"pb(
                    stages {
                      stage: BUYING_STAGE_AWARENESS
                      aliases: "Prospecting"
                      aliases: "Qualification"
                    }
                    stages {
                      stage: BUYING_STAGE_DECISION
                      aliases: "Negotiation/Review"
                      aliases: "商务谈判"
                    }
                    matrix { potential_thresholds: [ 50, 75.5 ] }
                    potential {
                      factors {
                        signal: SIGNAL_AMOUNT
                        curve { at: 0 score: 0 }
                        curve { at: 100 score: 1 }
                      }
                    }
                  )pb"));
}

TEST(YamlProtoTest, EnumsByShortOrFullNameInAnyCase) {
  for (const char* spelling :
       {"URGENT", "urgent", "Urgent", "NEED_URGENCY_URGENT",
        "need_urgency_urgent", "Need_Urgency_Urgent"}) {
    SCOPED_TRACE(spelling);
    Opportunity opp =
        Parse<Opportunity>(std::string("need_urgency: ") + spelling + "\n");
    EXPECT_EQ(opp.need_urgency(), v1::NEED_URGENCY_URGENT);
  }
  Ruleset rules = Parse<Ruleset>(
      "customer_type: {by_size: [{type: large_enterprise}, "
      "{type: CUSTOMER_TYPE_SMALL_BUSINESS}]}\n"
      "potential: {factors: [{signal: days_since_last_interaction}, "
      "{signal: Signal_Won_Deals_With_Account}]}\n");
  ASSERT_EQ(rules.customer_type().by_size_size(), 2);
  EXPECT_EQ(rules.customer_type().by_size(0).type(),
            v1::CUSTOMER_TYPE_LARGE_ENTERPRISE);
  EXPECT_EQ(rules.customer_type().by_size(1).type(),
            v1::CUSTOMER_TYPE_SMALL_BUSINESS);
  ASSERT_EQ(rules.potential().factors_size(), 2);
  EXPECT_EQ(rules.potential().factors(0).signal(),
            v1::SIGNAL_DAYS_SINCE_LAST_INTERACTION);
  EXPECT_EQ(rules.potential().factors(1).signal(),
            v1::SIGNAL_WON_DEALS_WITH_ACCOUNT);
}

TEST(YamlProtoTest, UnknownEnumValueListsTheChoices) {
  EXPECT_EQ(Error<Opportunity>("need_urgency: soon\n"),
            "need_urgency: unknown value \"soon\" (expected one of: URGENT, "
            "GENERAL, LATENT)");
  EXPECT_EQ(Error<Ruleset>("stages: [{stage: AWARENESS}, {stage: closing}]\n"),
            "stages[1].stage: unknown value \"closing\" (expected one of: "
            "AWARENESS, CONSIDERATION, DECISION, CLOSED_WON, CLOSED_LOST)");
}

TEST(YamlProtoTest, TimestampFromRfc3339) {
  Opportunity opp = Parse<Opportunity>(R"yaml(
created_time: 2026-03-01T09:00:00Z
expected_close_time: "2026-03-01T17:00:00+08:00"
need_by_time: 2026-03-01T09:00:00.250Z
)yaml");
  EXPECT_EQ(opp.created_time().seconds(), 1772355600);
  EXPECT_EQ(opp.created_time().nanos(), 0);
  EXPECT_EQ(opp.expected_close_time().seconds(), 1772355600);
  EXPECT_EQ(opp.need_by_time().seconds(), 1772355600);
  EXPECT_EQ(opp.need_by_time().nanos(), 250000000);

  EXPECT_EQ(Error<Opportunity>("created_time: yesterday\n"),
            "created_time: expected an RFC 3339 time such as "
            "\"2026-03-01T09:00:00Z\", got \"yesterday\"");
  EXPECT_EQ(Error<Opportunity>(
                "relationship: {last_interaction_time: {seconds: 5}}\n"),
            "relationship.last_interaction_time: expected a string, got a "
            "mapping");
}

// A proto3 string must be UTF-8, or no message carrying it can be sent
// (found by fuzz/ruleset_fuzz.cc: a playbook in Latin-1 made every
// classification unsendable).
TEST(YamlProtoTest, StringsThatAreNotUtf8AreRejectedWithThePath) {
  EXPECT_EQ(Error<Opportunity>("name: M\xfcller GmbH\n"),
            "name: expected UTF-8 text");
  EXPECT_EQ(Error<Opportunity>("attributes: {region: \"K\xf6ln\"}\n"),
            "attributes.region: expected UTF-8 text");
  EXPECT_EQ(Error<Ruleset>("stages: [{stage: DECISION, aliases: [ok, "
                           "\"Verhandlung \xe0\"]}]\n"),
            "stages[0].aliases[1]: expected UTF-8 text");
  EXPECT_EQ(Parse<Opportunity>("name: M\xc3\xbcller GmbH\n").name(),
            "M\xc3\xbcller GmbH");
}

TEST(YamlProtoTest, Integers) {
  Opportunity opp = Parse<Opportunity>(
      "version: 9223372036854775807\naccount: {employees: -5}\n"
      "relationship: {contacts_engaged: 2147483647}\n");
  EXPECT_EQ(opp.version(), 9223372036854775807);
  EXPECT_EQ(opp.account().employees(), -5);  // validation is separate
  EXPECT_EQ(opp.relationship().contacts_engaged(), 2147483647);
}

TEST(YamlProtoTest, IntegerOverflowIsRejectedWithThePath) {
  EXPECT_EQ(Error<Opportunity>("version: 9223372036854775808\n"),
            "version: expected a whole number in range, got "
            "\"9223372036854775808\"");
  EXPECT_EQ(Error<Opportunity>("account: {employees: 99999999999999999999}\n"),
            "account.employees: expected a whole number in range, got "
            "\"99999999999999999999\"");
  EXPECT_EQ(
      Error<Opportunity>("relationship: {contacts_engaged: 2147483648}\n"),
      "relationship.contacts_engaged: expected a whole number in range, got "
      "\"2147483648\"");
  EXPECT_EQ(Error<Opportunity>("account: {employees: 12.5}\n"),
            "account.employees: expected a whole number in range, got "
            "\"12.5\"");
}

TEST(YamlProtoTest, BoolForms) {
  for (const char* yes : {"true", "True", "TRUE", "yes", "Yes", "on", "ON"}) {
    SCOPED_TRACE(yes);
    EXPECT_TRUE(Parse<Opportunity>(
                    std::string("relationship: {has_champion: ") + yes + "}\n")
                    .relationship()
                    .has_champion());
  }
  for (const char* no : {"false", "False", "no", "NO", "off", "Off"}) {
    SCOPED_TRACE(no);
    Opportunity opp = Parse<Opportunity>(
        std::string("relationship: {has_champion: ") + no + "}\n");
    EXPECT_TRUE(opp.has_relationship());
    EXPECT_FALSE(opp.relationship().has_champion());
  }
  EXPECT_EQ(Error<Opportunity>("relationship: {has_champion: maybe}\n"),
            "relationship.has_champion: expected true or false, got \"maybe\"");
}

TEST(YamlProtoTest, Doubles) {
  EXPECT_DOUBLE_EQ(Parse<Opportunity>("probability: 60.5\n").probability(),
                   60.5);
  EXPECT_DOUBLE_EQ(Parse<Opportunity>("probability: 1e1\n").probability(), 10);
  EXPECT_TRUE(
      std::isnan(Parse<Opportunity>("probability: .nan\n").probability()));
  EXPECT_EQ(Parse<Opportunity>("probability: .inf\n").probability(), INFINITY);
  EXPECT_EQ(Parse<Opportunity>("probability: -.Inf\n").probability(),
            -INFINITY);
  EXPECT_EQ(Error<Opportunity>("probability: high\n"),
            "probability: expected a number, got \"high\"");
}

TEST(YamlProtoTest, UnknownKeyNamesThePathAndTheChoices) {
  EXPECT_EQ(Error<Opportunity>("account: {employes: 5}\n"),
            "account.employes: unknown key (expected one of: id, name, "
            "industry, employees, annual_revenue, customer_type, country)");
  EXPECT_EQ(Error<Ruleset>("stages:\n  - stage: AWARENESS\n  - alias: [x]\n"),
            "stages[1].alias: unknown key (expected one of: stage, aliases)");
  EXPECT_EQ(Error<Opportunity>("id: x\nstagee: y\n"),
            "stagee: unknown key (expected one of: id, tenant_id, version, "
            "name, stage, amount, created_time, expected_close_time, owner, "
            "product, need_urgency, account, relationship, attributes, "
            "need_by_time, budget_status, probability, signal_times)");
}

TEST(YamlProtoTest, NullLeavesTheFieldUnset) {
  Opportunity opp = Parse<Opportunity>(R"yaml(
id: opp-1
name: ~
stage: null
amount:
account: ~
relationship: {}
)yaml");
  EXPECT_EQ(opp.id(), "opp-1");
  EXPECT_EQ(opp.name(), "");
  EXPECT_EQ(opp.stage(), "");
  EXPECT_FALSE(opp.has_amount());
  EXPECT_FALSE(opp.has_account());
  EXPECT_TRUE(opp.has_relationship());  // an empty mapping is a value
  Ruleset rules = Parse<Ruleset>("explain:\n  max_reasons: ~\n");
  EXPECT_TRUE(rules.has_explain());
  EXPECT_EQ(rules.explain().max_reasons(), 0);
}

TEST(YamlProtoTest, NullMapValueIsAnError) {
  EXPECT_EQ(Error<Opportunity>("attributes: {source: ~}\n"),
            "attributes.source: missing value");
}

TEST(YamlProtoTest, KindErrorsNameThePath) {
  EXPECT_EQ(Error<Opportunity>("account: [1, 2]\n"),
            "account: expected a mapping, got a list");
  EXPECT_EQ(Error<Opportunity>("attributes: [a, b]\n"),
            "attributes: expected a mapping, got a list");
  EXPECT_EQ(Error<Opportunity>("amount: 5\n"),
            "amount: expected a mapping, got a scalar");
  EXPECT_EQ(Error<Opportunity>("name: [a]\n"),
            "name: expected a single value, got a list");
  EXPECT_EQ(Error<Opportunity>("name: {first: a}\n"),
            "name: expected a single value, got a mapping");
  EXPECT_EQ(Error<Ruleset>("stages: {stage: AWARENESS}\n"),
            "stages: expected a list, got a mapping");
  EXPECT_EQ(Error<Ruleset>("matrix: {potential_thresholds: 50}\n"),
            "matrix.potential_thresholds: expected a list, got a scalar");
  EXPECT_EQ(Error<Ruleset>("stages: [{stage: AWARENESS, aliases: [[x]]}]\n"),
            "stages[0].aliases[0]: expected a single value, got a list");
  EXPECT_EQ(Error<Opportunity>("- id: x\n"),
            "<document>: expected a mapping, got a list");
}

TEST(YamlProtoTest, SyntaxErrorGivesLineAndColumn) {
  EXPECT_EQ(Error<Opportunity>("id: opp-1\naccount: {name: x\ntenant_id: t\n"),
            "line 3, column 10: end of map flow not found");
  EXPECT_EQ(Error<Opportunity>("id: [unclosed\n"),
            "line 2, column 1: end of sequence flow not found");
  EXPECT_THAT(Error<Opportunity>("id: a: b\n"),
              MatchesRegex("line 1, column [0-9]+: .+"));
}

TEST(YamlProtoTest, EmptyDocumentGivesAnEmptyMessage) {
  Opportunity opp = Text<Opportunity>(R"pb(id: "stale")pb");
  ASSERT_TRUE(ParseYamlToMessage("", &opp).ok());
  EXPECT_EQ(opp.ByteSizeLong(), 0u);
}

TEST(YamlProtoTest, MessageIsClearedFirst) {
  Opportunity opp = Text<Opportunity>(R"pb(
    id: "stale"
    attributes { key: "old" value: "x" }
  )pb");
  ASSERT_TRUE(ParseYamlToMessage("name: fresh\n", &opp).ok());
  EXPECT_PROTO_EQ(opp, Text<Opportunity>(R"pb(name: "fresh")pb"));
}

TEST(YamlProtoTest, NodeToMessagePrefixesThePath) {
  v1::Account account;
  absl::Status status = YamlNodeToMessage(YAML::Load("employes: 5"),
                                          "opportunities[2].account", &account);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "opportunities[2].account.employes: unknown key (expected one of: "
            "id, name, industry, employees, annual_revenue, customer_type, "
            "country)");
  ASSERT_TRUE(
      YamlNodeToMessage(YAML::Load("{employees: 5, country: DE}"), "", &account)
          .ok());
  EXPECT_EQ(account.employees(), 5);
  EXPECT_EQ(account.country(), "DE");
}

}  // namespace
}  // namespace oppmatrix
