// Tests of the ruleset loader: every kind of bad ruleset gives its exact
// error (one fixture per kind under testdata/bad_rules/), the shipped
// rulesets are valid, the default understands the standard CRM stage names,
// and the version changes with the content and nothing else.
#include "services/engine/ruleset.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/dimensions.pb.h"
#include "oppmatrix/v1/ruleset.pb.h"
#include "tests/engine/engine_test_util.h"

namespace oppmatrix {
namespace {

using ::oppmatrix::testutil::DefaultRules;
using ::oppmatrix::testutil::kDefaultRulesPath;
using ::oppmatrix::testutil::kMinimalRulesPath;
using ::oppmatrix::testutil::ReadFileOrDie;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

namespace fs = std::filesystem;

const fs::path& BadRulesDir() {
  static const fs::path* const dir =
      new fs::path(OPPMATRIX_SOURCE_DIR "/tests/engine/testdata/bad_rules");
  return *dir;
}

std::string MinimalYaml() { return ReadFileOrDie(kMinimalRulesPath); }

// `text` with `from` replaced by `to`; `from` must occur exactly once.
std::string Replace(const std::string& text, absl::string_view from,
                    absl::string_view to) {
  size_t at = text.find(std::string(from));
  EXPECT_NE(at, std::string::npos) << "\"" << from << "\" not found";
  if (at == std::string::npos) return text;
  EXPECT_EQ(text.find(std::string(from), at + 1), std::string::npos)
      << "\"" << from << "\" occurs more than once";
  return absl::StrCat(text.substr(0, at), to, text.substr(at + from.size()));
}

// The version of `yaml`, or "error: <message>".
std::string VersionOf(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml(yaml);
  if (!rules.ok()) return absl::StrCat("error: ", rules.status().message());
  return (*rules)->version;
}

// ---------------------------------------------------------------------------
// Bad rulesets: one fixture per kind, each with its exact error.
// ---------------------------------------------------------------------------

// The fixture names (file stems), sorted.
std::vector<std::string> BadRuleFixtures() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(BadRulesDir(), ec)) {
    if (entry.path().extension() == ".yaml") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

class BadRulesetTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadRulesetTest, GivesTheExactError) {
  const fs::path yaml_path = BadRulesDir() / (GetParam() + ".yaml");
  const fs::path error_path = BadRulesDir() / (GetParam() + ".error");
  ASSERT_TRUE(fs::exists(error_path))
      << yaml_path << " has no " << error_path.filename()
      << " with the expected error";
  const std::string error_file = ReadFileOrDie(error_path.string());
  const std::string expected(absl::StripSuffix(error_file, "\n"));
  ASSERT_FALSE(expected.empty()) << error_path;
  EXPECT_EQ(expected.find('\n'), std::string::npos)
      << error_path << ": a fixture breaks exactly one thing, so its error "
      << "is one line";

  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml(ReadFileOrDie(yaml_path.string()));
  ASSERT_FALSE(rules.ok()) << yaml_path << " loaded";
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rules.status().message(), expected) << yaml_path;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BadRulesetTest,
                         ::testing::ValuesIn(BadRuleFixtures()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(BadRulesetFixturesTest, DirectoryIsCompleteAndConsistent) {
  ASSERT_TRUE(fs::is_directory(BadRulesDir())) << BadRulesDir();
  std::set<std::string> yaml, error;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(BadRulesDir())) {
    const std::string ext = entry.path().extension().string();
    const std::string stem = entry.path().stem().string();
    if (ext == ".yaml") {
      yaml.insert(stem);
    } else if (ext == ".error") {
      error.insert(stem);
    } else {
      ADD_FAILURE() << "unexpected file " << entry.path();
    }
  }
  EXPECT_GE(yaml.size(), 40u);
  EXPECT_EQ(yaml, error) << "every NAME.yaml needs a NAME.error and back";
}

TEST(BadRulesetFixturesTest, LoadRulesetFilePrefixesThePath) {
  const std::string path = (BadRulesDir() / "max_reasons_zero.yaml").string();
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(path);
  ASSERT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rules.status().message(),
            absl::StrCat(path,
                         ": explain.max_reasons: must be between 1 and 32, "
                         "got 0"));
}

TEST(RulesetLoadTest, MissingFileIsNotFound) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(OPPMATRIX_SOURCE_DIR "/tests/engine/testdata/nope.yaml");
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(rules.status().message(), HasSubstr("nope.yaml"));
}

TEST(RulesetLoadTest, EveryProblemIsOneLineInDocumentOrder) {
  std::string yaml = MinimalYaml();
  yaml = Replace(yaml, "name: minimal\n", "name: Bad Name\n");
  yaml = Replace(yaml, "  GBP: 1.25\n", "  GBP: 0\n");
  yaml = Replace(yaml, "  b_min: 55\n", "  b_min: 80\n");
  yaml = Replace(yaml, "  max_reasons: 4\n", "  max_reasons: 0\n");
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml(yaml);
  ASSERT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rules.status().message(),
            "name: must match [a-z0-9][a-z0-9._-]* and be at most 64 bytes, "
            "got \"Bad Name\"\n"
            "currency_rates.GBP: must be positive\n"
            "grade: needs 0 < c_min < b_min < a_min <= 100\n"
            "explain.max_reasons: must be between 1 and 32, got 0");
}

TEST(RulesetLoadTest, EmptyDocumentIsInvalid) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml("");
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rules.status().message(), HasSubstr("name: must match"));
}

TEST(RulesetLoadTest, TopLevelListIsInvalid) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml("- name: minimal\n");
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rules.status().message(),
            "<document>: expected a mapping, got a list");
}

// ---------------------------------------------------------------------------
// The shipped rulesets
// ---------------------------------------------------------------------------

TEST(ShippedRulesetTest, MinimalIsValid) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(kMinimalRulesPath);
  ASSERT_TRUE(rules.ok()) << rules.status();
  const CompiledRuleset& r = **rules;
  EXPECT_THAT(r.version, MatchesRegex("minimal@[0-9a-f]{12}"));
  EXPECT_EQ(r.potential.factors.size(), 4u);
  EXPECT_DOUBLE_EQ(r.potential.total_weight, 100);
  EXPECT_EQ(r.relationship.factors.size(), 2u);
  EXPECT_EQ(r.potential_bands, 2);
  EXPECT_EQ(r.relationship_bands, 2);
  ASSERT_EQ(r.cells.size(), 4u);
  EXPECT_EQ(r.cells[1 * 2 + 1]->id(), "KEY");
  EXPECT_EQ(r.cells[1 * 2 + 0]->id(), "DEVELOP");
  EXPECT_EQ(r.cells[0 * 2 + 1]->id(), "MAINTAIN");
  EXPECT_EQ(r.cells[0 * 2 + 0]->id(), "EXIT");
  EXPECT_TRUE(ValidateRuleset(r.proto).ok());
}

TEST(ShippedRulesetTest, DefaultIsValid) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(kDefaultRulesPath);
  ASSERT_TRUE(rules.ok()) << rules.status();
  const CompiledRuleset& r = **rules;
  EXPECT_THAT(r.version, MatchesRegex("default@[0-9a-f]{12}"));
  EXPECT_EQ(r.proto.base_currency(), "USD");
  EXPECT_EQ(r.potential_bands, 2);
  EXPECT_EQ(r.relationship_bands, 2);
  EXPECT_EQ(r.proto.explain().max_reasons(), 6);
  EXPECT_DOUBLE_EQ(r.priority_potential_share, 0.6);
  for (const v1::Cell* cell : r.cells) ASSERT_NE(cell, nullptr);
}

struct CrmStage {
  std::string crm;
  std::string name;
  v1::BuyingStage stage;
};

void PrintTo(const CrmStage& c, std::ostream* os) {
  *os << c.crm << " \"" << c.name << "\"";
}

class DefaultStageMappingTest : public ::testing::TestWithParam<CrmStage> {};

TEST_P(DefaultStageMappingTest, MapsTheStandardStageName) {
  EXPECT_EQ(DefaultRules().LookupStage(GetParam().name), GetParam().stage)
      << GetParam().crm << " \"" << GetParam().name << "\" gave "
      << v1::BuyingStage_Name(DefaultRules().LookupStage(GetParam().name));
}

constexpr v1::BuyingStage kAware = v1::BUYING_STAGE_AWARENESS;
constexpr v1::BuyingStage kConsider = v1::BUYING_STAGE_CONSIDERATION;
constexpr v1::BuyingStage kDecide = v1::BUYING_STAGE_DECISION;
constexpr v1::BuyingStage kWon = v1::BUYING_STAGE_CLOSED_WON;
constexpr v1::BuyingStage kLost = v1::BUYING_STAGE_CLOSED_LOST;

INSTANTIATE_TEST_SUITE_P(
    Default, DefaultStageMappingTest,
    ::testing::Values(
        // Salesforce standard opportunity stages.
        CrmStage{"Salesforce", "Prospecting", kAware},
        CrmStage{"Salesforce", "Qualification", kAware},
        CrmStage{"Salesforce", "Needs Analysis", kConsider},
        CrmStage{"Salesforce", "Value Proposition", kConsider},
        CrmStage{"Salesforce", "Id. Decision Makers", kConsider},
        CrmStage{"Salesforce", "Perception Analysis", kConsider},
        CrmStage{"Salesforce", "Proposal/Price Quote", kDecide},
        CrmStage{"Salesforce", "Negotiation/Review", kDecide},
        CrmStage{"Salesforce", "Closed Won", kWon},
        CrmStage{"Salesforce", "Closed Lost", kLost},
        // HubSpot default pipeline: labels and internal values.
        CrmStage{"HubSpot", "Appointment Scheduled", kAware},
        CrmStage{"HubSpot", "appointmentscheduled", kAware},
        CrmStage{"HubSpot", "Qualified To Buy", kConsider},
        CrmStage{"HubSpot", "qualifiedtobuy", kConsider},
        CrmStage{"HubSpot", "Presentation Scheduled", kConsider},
        CrmStage{"HubSpot", "presentationscheduled", kConsider},
        CrmStage{"HubSpot", "Decision Maker Bought-In", kDecide},
        CrmStage{"HubSpot", "decisionmakerboughtin", kDecide},
        CrmStage{"HubSpot", "Contract Sent", kDecide},
        CrmStage{"HubSpot", "contractsent", kDecide},
        CrmStage{"HubSpot", "Closed Won", kWon},
        CrmStage{"HubSpot", "closedwon", kWon},
        CrmStage{"HubSpot", "Closed Lost", kLost},
        CrmStage{"HubSpot", "closedlost", kLost},
        // Dynamics 365 Sales business process stages and statuses.
        CrmStage{"Dynamics 365", "Qualify", kAware},
        CrmStage{"Dynamics 365", "Develop", kConsider},
        CrmStage{"Dynamics 365", "Propose", kDecide},
        CrmStage{"Dynamics 365", "Close", kDecide},
        CrmStage{"Dynamics 365", "Won", kWon},
        CrmStage{"Dynamics 365", "Lost", kLost},
        // Odoo CRM default stages.
        CrmStage{"Odoo", "New", kAware},
        CrmStage{"Odoo", "Qualified", kConsider},
        CrmStage{"Odoo", "Proposition", kDecide},
        CrmStage{"Odoo", "Won", kWon}),
    [](const ::testing::TestParamInfo<CrmStage>& info) {
      std::string name = absl::StrCat(info.param.crm, "_", info.param.name);
      for (char& c : name) {
        if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return absl::StrCat(name, "_", info.index);
    });

// ---------------------------------------------------------------------------
// Lookups and helpers of a compiled ruleset
// ---------------------------------------------------------------------------

TEST(CompiledRulesetTest, NormalizeAliasKeepsLettersDigitsAndNonAscii) {
  EXPECT_EQ(NormalizeAlias("Closed Won"), "closedwon");
  EXPECT_EQ(NormalizeAlias("closed_won"), "closedwon");
  EXPECT_EQ(NormalizeAlias("Id. Decision Makers"), "iddecisionmakers");
  EXPECT_EQ(NormalizeAlias("Stage 7!"), "stage7");
  EXPECT_EQ(NormalizeAlias("商务 谈判"), "商务谈判");
  EXPECT_EQ(NormalizeAlias(" -/ "), "");
}

TEST(CompiledRulesetTest, ShortEnumNameDropsTheTypePrefix) {
  EXPECT_EQ(ShortEnumName(v1::CustomerType_descriptor()->FindValueByNumber(
                v1::CUSTOMER_TYPE_SME)),
            "SME");
  EXPECT_EQ(ShortEnumName(v1::Signal_descriptor()->FindValueByNumber(
                v1::SIGNAL_DAYS_SINCE_LAST_INTERACTION)),
            "DAYS_SINCE_LAST_INTERACTION");
  EXPECT_EQ(ShortEnumName(nullptr), "");
}

TEST(CompiledRulesetTest, LooksUpAliasesAndImplicitNames) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(kMinimalRulesPath);
  ASSERT_TRUE(rules.ok()) << rules.status();
  const CompiledRuleset& r = **rules;
  EXPECT_EQ(r.LookupStage("PROSPECTING"), v1::BUYING_STAGE_AWARENESS);
  EXPECT_EQ(r.LookupStage("negotiation review"), v1::BUYING_STAGE_DECISION);
  EXPECT_EQ(r.LookupStage("Consideration"), v1::BUYING_STAGE_CONSIDERATION);
  EXPECT_EQ(r.LookupStage("closed-lost"), v1::BUYING_STAGE_CLOSED_LOST);
  EXPECT_EQ(r.LookupStage("Unspecified"), v1::BUYING_STAGE_UNSPECIFIED);
  EXPECT_EQ(r.LookupStage("Develop"), v1::BUYING_STAGE_UNSPECIFIED);
  EXPECT_EQ(r.LookupStage(""), v1::BUYING_STAGE_UNSPECIFIED);
  EXPECT_EQ(r.LookupIndustry("technolgy"), v1::INDUSTRY_TECHNOLOGY);
  EXPECT_EQ(r.LookupIndustry("Real Estate"), v1::INDUSTRY_REAL_ESTATE);
  EXPECT_EQ(r.LookupIndustry("medical"), v1::INDUSTRY_HEALTHCARE);
  EXPECT_EQ(r.LookupIndustry("Medicine"), v1::INDUSTRY_UNSPECIFIED);
}

TEST(CompiledRulesetTest, ConvertsToTheBaseCurrency) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(kMinimalRulesPath);
  ASSERT_TRUE(rules.ok()) << rules.status();
  google::type::Money money;
  money.set_currency_code("USD");
  money.set_units(12);
  money.set_nanos(500000000);
  EXPECT_EQ((*rules)->ToBaseCurrency(money), 12.5);
  money.set_currency_code("GBP");
  EXPECT_EQ((*rules)->ToBaseCurrency(money), 12.5 * 1.25);
  money.set_currency_code("JPY");
  EXPECT_EQ((*rules)->ToBaseCurrency(money), std::nullopt);
}

TEST(CompiledRulesetTest, BandCountsTheCutPointsReached) {
  google::protobuf::RepeatedField<double> cuts;
  cuts.Add(30);
  cuts.Add(70);
  EXPECT_EQ(CompiledRuleset::Band(0, cuts), 0);
  EXPECT_EQ(CompiledRuleset::Band(29.99, cuts), 0);
  EXPECT_EQ(CompiledRuleset::Band(30, cuts), 1);
  EXPECT_EQ(CompiledRuleset::Band(69.99, cuts), 1);
  EXPECT_EQ(CompiledRuleset::Band(70, cuts), 2);
  EXPECT_EQ(CompiledRuleset::Band(100, cuts), 2);
  EXPECT_EQ(CompiledRuleset::Band(50, {}), 0);
}

// ---------------------------------------------------------------------------
// Version
// ---------------------------------------------------------------------------

TEST(RulesetVersionTest, IsNameAndTwelveHexDigitsStableAcrossReloads) {
  const std::string first = VersionOf(MinimalYaml());
  EXPECT_THAT(first, MatchesRegex("minimal@[0-9a-f]{12}"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(VersionOf(MinimalYaml()), first);
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> file =
      LoadRulesetFile(kMinimalRulesPath);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->version, first);
  EXPECT_EQ(RulesetVersion((*file)->proto), first);
}

// minimal.yaml's top-level sections in reverse order.
std::string ReverseTopLevelOrder(const std::string& yaml) {
  std::vector<std::string> sections;
  for (absl::string_view line : absl::StrSplit(yaml, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != ' ' || sections.empty()) sections.emplace_back();
    absl::StrAppend(&sections.back(), line, "\n");
  }
  std::reverse(sections.begin(), sections.end());
  return absl::StrJoin(sections, "");
}

TEST(RulesetVersionTest, UnchangedByCommentsWhitespaceAndKeyOrder) {
  const std::string yaml = MinimalYaml();
  const std::string version = VersionOf(yaml);
  ASSERT_THAT(version, MatchesRegex("minimal@[0-9a-f]{12}"));

  const std::string commented =
      absl::StrCat("# A new comment at the top.\n\n",
                   absl::StrReplaceAll(
                       yaml, {{"value_tier:\n", "\n\nvalue_tier:   # tiers\n"},
                              {"  high_min: 70\n", "  high_min: 70   \n"}}),
                   "\n# A comment at the end.\n\n");
  EXPECT_EQ(VersionOf(commented), version) << "comments and blank lines";

  const std::string reordered = ReverseTopLevelOrder(yaml);
  ASSERT_NE(reordered, yaml);
  EXPECT_EQ(VersionOf(reordered), version) << "top-level key order";

  const std::string restyled =
      Replace(Replace(yaml, "currency_rates:\n  EUR: 1.1\n  GBP: 1.25\n",
                      "currency_rates: {GBP: 1.250, \"EUR\": 1.10}\n"),
              "value_tier:\n  high_min: 70\n  medium_min: 40\n",
              "value_tier: {medium_min: 40.0, high_min: 7e1}\n");
  EXPECT_EQ(VersionOf(restyled), version)
      << "flow style, map key order, quoting and number spelling";

  const std::string camel =
      Replace(yaml, "base_currency: USD", "baseCurrency: USD");
  EXPECT_EQ(VersionOf(camel), version) << "lowerCamelCase key";
}

TEST(RulesetVersionTest, ChangedByAnyValueChange) {
  const std::string yaml = MinimalYaml();
  struct Change {
    std::string from, to;
  };
  const std::vector<Change> changes = {
      {"name: minimal", "name: minimal2"},
      {"description: Minimal", "description: Smallest"},
      {"  EUR: 1.1\n", "  EUR: 1.11\n"},
      {"  GBP: 1.25\n", ""},
      {"min_employees: 10}", "min_employees: 11}"},
      {"      weight: 40\n", "      weight: 40.5\n"},
      {"{at: 5, score: 1}", "{at: 6, score: 1}"},
      {"      missing: 0.3\n    - signal: buying_stage",
       "      missing: 0.31\n    - signal: buying_stage"},
      {"  high_min: 70\n", "  high_min: 71\n"},
      {"  general_within_days: 120\n", "  general_within_days: 121\n"},
      {"[Prospecting, Qualification]", "[Prospecting, Qualification, Lead]"},
      {"[Prospecting, Qualification]", "[Qualification, Prospecting]"},
      {"urgency_bonus: {URGENT: 10, LATENT: -5}",
       "urgency_bonus: {URGENT: 10, LATENT: -6}"},
      {"  a_min: 75\n", "  a_min: 76\n"},
      {"potential_thresholds: [50]", "potential_thresholds: [55]"},
      {"label: Key\n", "label: Key account\n"},
      {"playbook: Low touch.", "playbook: Low touch!"},
      {"  max_reasons: 4\n", "  max_reasons: 5\n"},
  };
  std::set<std::string> versions = {VersionOf(yaml)};
  for (const Change& change : changes) {
    const std::string version =
        VersionOf(Replace(yaml, change.from, change.to));
    SCOPED_TRACE(absl::StrCat(change.from, " -> ", change.to));
    EXPECT_THAT(version, MatchesRegex("minimal2?@[0-9a-f]{12}"));
    EXPECT_TRUE(versions.insert(version).second) << "version not changed";
  }
}

// ---------------------------------------------------------------------------
// Enum spellings and matrix sizes
// ---------------------------------------------------------------------------

TEST(RulesetYamlTest, EnumValuesByShortOrFullNameInAnyCase) {
  const std::string yaml = MinimalYaml();
  const std::string version = VersionOf(yaml);
  ASSERT_THAT(version, MatchesRegex("minimal@[0-9a-f]{12}"));
  const std::vector<std::pair<std::string, std::string>> spellings = {
      {"    - signal: amount\n", "    - signal: AMOUNT\n"},
      {"    - signal: amount\n", "    - signal: SIGNAL_AMOUNT\n"},
      {"    - signal: amount\n", "    - signal: signal_amount\n"},
      {"    - signal: amount\n", "    - signal: Signal_Amount\n"},
      {"{type: LARGE_ENTERPRISE,", "{type: large_enterprise,"},
      {"{type: LARGE_ENTERPRISE,", "{type: CUSTOMER_TYPE_LARGE_ENTERPRISE,"},
      {"{type: LARGE_ENTERPRISE,", "{type: customer_type_Large_Enterprise,"},
      {"  - stage: DECISION\n", "  - stage: decision\n"},
      {"  - stage: DECISION\n", "  - stage: BUYING_STAGE_DECISION\n"},
      {"        - value_tier: HIGH\n",
       "        - value_tier: value_tier_high\n"},
  };
  for (const auto& [from, to] : spellings) {
    SCOPED_TRACE(to);
    EXPECT_EQ(VersionOf(Replace(yaml, from, to)), version);
  }
}

// minimal.yaml with an N x M matrix cutting potential at `p_cuts` and
// relationship at `r_cuts`; cell "P<p>_R<r>".
std::string WithMatrix(const std::vector<int>& p_cuts,
                       const std::vector<int>& r_cuts) {
  const std::string yaml = MinimalYaml();
  std::string matrix = absl::StrCat(
      "matrix:\n  potential_thresholds: [", absl::StrJoin(p_cuts, ", "),
      "]\n  relationship_thresholds: [", absl::StrJoin(r_cuts, ", "),
      "]\n  cells:\n");
  for (size_t p = 0; p <= p_cuts.size(); ++p) {
    for (size_t r = 0; r <= r_cuts.size(); ++r) {
      absl::StrAppend(&matrix, "    - id: P", p, "_R", r,
                      "\n      potential_band: ", p,
                      "\n      relationship_band: ", r,
                      "\n      action: {code: ACT, playbook: Act.}\n");
    }
  }
  const size_t begin = yaml.find("matrix:\n");
  const size_t end = yaml.find("explain:\n");
  return absl::StrCat(yaml.substr(0, begin), matrix, yaml.substr(end));
}

TEST(RulesetYamlTest, ThreeByThreeMatrixCompiles) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetYaml(WithMatrix({33, 66}, {25, 75}));
  ASSERT_TRUE(rules.ok()) << rules.status();
  const CompiledRuleset& r = **rules;
  EXPECT_EQ(r.potential_bands, 3);
  EXPECT_EQ(r.relationship_bands, 3);
  ASSERT_EQ(r.cells.size(), 9u);
  for (int p = 0; p < 3; ++p) {
    for (int rel = 0; rel < 3; ++rel) {
      ASSERT_NE(r.cells[p * 3 + rel], nullptr);
      EXPECT_EQ(r.cells[p * 3 + rel]->id(), absl::StrCat("P", p, "_R", rel));
    }
  }
}

TEST(RulesetYamlTest, LargestMatrixCompilesAndOneBiggerDoesNot) {
  const std::vector<int> nine = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> largest =
      LoadRulesetYaml(WithMatrix(nine, {50}));
  ASSERT_TRUE(largest.ok()) << largest.status();
  EXPECT_EQ((*largest)->potential_bands, kMaxMatrixBands);
  EXPECT_EQ((*largest)->cells.size(), 20u);

  std::vector<int> ten = nine;
  ten.push_back(95);
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> too_big =
      LoadRulesetYaml(WithMatrix(ten, {50}));
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(too_big.status().message(),
            "matrix.potential_thresholds: at most 9 cut points");
}

}  // namespace
}  // namespace oppmatrix
