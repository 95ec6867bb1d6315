// CRM exports to CrmEvents: each preset on a fixture shaped like that CRM's
// export (tests/clients/testdata/import/), mapping files and their errors,
// and the amounts and dates those exports write.
#include "clients/oppctl/crm_import.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Fixture(const std::string& crm) {
  std::ifstream in(absl::StrCat(
      OPPMATRIX_SOURCE_DIR, "/tests/clients/testdata/import/", crm, ".csv"));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const absl::Time kNow = absl::FromUnixSeconds(1795435200);  // 2026-11-23

TEST(CrmImportTest, EveryPresetImportsItsFixtureWhole) {
  const std::map<std::string, int> rows = {{"salesforce", 6},
                                           {"hubspot", 5},
                                           {"dynamics", 4},
                                           {"odoo", 4},
                                           {"pipedrive", 5}};
  ASSERT_EQ(PresetNames().size(), rows.size());
  for (const std::string& crm : PresetNames()) {
    SCOPED_TRACE(crm);
    absl::StatusOr<ImportMapping> m = PresetMapping(crm);
    ASSERT_TRUE(m.ok()) << m.status();
    absl::StatusOr<ImportResult> r =
        ImportCsv(Fixture(crm), *m, "acme", kNow, crm + ".csv");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->rows, rows.at(crm));
    EXPECT_EQ(static_cast<int>(r->events.size()), rows.at(crm));
    EXPECT_THAT(r->rejected, IsEmpty());
    for (const ImportIssue& w : r->warnings) {
      ADD_FAILURE() << "line " << w.line << ": " << w.reason;
    }
    for (const v1::CrmEvent& e : r->events) {
      EXPECT_EQ(e.type(), v1::OPPORTUNITY_UPSERTED);
      EXPECT_EQ(e.tenant_id(), "acme");
      EXPECT_EQ(e.opportunity().tenant_id(), "acme");
      EXPECT_FALSE(e.opportunity_id().empty());
      EXPECT_GT(e.version(), 0);
      EXPECT_FALSE(e.opportunity().name().empty());
      EXPECT_FALSE(e.opportunity().stage().empty());
      EXPECT_TRUE(e.opportunity().has_amount());
      EXPECT_FALSE(e.opportunity().amount().currency_code().empty());
      EXPECT_TRUE(e.opportunity().has_expected_close_time());
    }
  }
}

TEST(CrmImportTest, SalesforceRowBecomesTheOpportunity) {
  absl::StatusOr<ImportResult> r = ImportCsv(
      Fixture("salesforce"), *PresetMapping("salesforce"), "acme", kNow, "sf");
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::Opportunity& o = r->events[0].opportunity();
  EXPECT_EQ(o.id(), "0065g00000AbCdEAA1");
  EXPECT_EQ(o.amount().units(), 1200000);
  EXPECT_EQ(o.amount().currency_code(), "USD");
  EXPECT_EQ(o.account().annual_revenue().units(), 480000000);
  // "$" names no one currency, and the export has no column for the
  // revenue's: it is left for the engine to report (or --currency).
  EXPECT_EQ(o.account().annual_revenue().currency_code(), "");
  EXPECT_EQ(o.account().employees(), 3500);
  EXPECT_EQ(o.account().country(), "China");
  EXPECT_EQ(o.probability(), 80);
  EXPECT_EQ(o.expected_close_time().seconds(),
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2030, 11, 30),
                                                absl::UTCTimeZone())));
  EXPECT_EQ(o.attributes().at("lead_source"), "Partner");
  // The version is the row's Last Modified Date, in microseconds.
  EXPECT_EQ(r->events[0].version(),
            absl::ToUnixMicros(absl::FromCivil(
                absl::CivilMinute(2026, 11, 20, 10, 15), absl::UTCTimeZone())));
  EXPECT_EQ(r->lines[0], 2);
}

TEST(CrmImportTest, HubSpotProbabilityIsScaledAndDynamicsEuroAmountsRead) {
  auto hubspot = ImportCsv(Fixture("hubspot"), *PresetMapping("hubspot"),
                           "acme", kNow, "hs");
  ASSERT_TRUE(hubspot.ok());
  EXPECT_DOUBLE_EQ(hubspot->events[0].opportunity().probability(), 80);
  auto dynamics = ImportCsv(Fixture("dynamics"), *PresetMapping("dynamics"),
                            "acme", kNow, "d365");
  ASSERT_TRUE(dynamics.ok());
  const v1::Opportunity& grid = dynamics->events[2].opportunity();
  EXPECT_EQ(grid.amount().units(), 2500000);
  // The currency column as written; the engine reads "Euro" as EUR.
  EXPECT_EQ(grid.amount().currency_code(), "Euro");
}

TEST(CrmImportTest, MessyValuesAreLeftOutAndRowsWithoutIdRejected) {
  ImportMapping m = *ParseImportMapping(R"yaml(
columns:
  Id: id
  Amount: amount
  Close: expected_close_time
  Staff: account.employees
date_formats: ["%d.%m.%Y"]
currency: EUR
values:
  id: {"-": ""}
)yaml",
                                        "m.yaml");
  absl::StatusOr<ImportResult> r = ImportCsv(
      "id,amount,close,staff\n"
      "a-1,\"1.234,50\",31.12.2030,12\n"
      "a-2,lots,2030-13-45,many\n"
      ",5,,\n",
      m, "acme", kNow, "x.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows, 3);
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->events[0].opportunity().amount().units(), 1234);
  EXPECT_EQ(r->events[0].opportunity().amount().nanos(), 500000000);
  EXPECT_EQ(r->events[0].opportunity().amount().currency_code(), "EUR");
  EXPECT_FALSE(r->events[1].opportunity().has_amount());
  ASSERT_EQ(r->warnings.size(), 3u);
  EXPECT_EQ(r->warnings[0].line, 3);
  EXPECT_EQ(r->warnings[0].reason,
            "amount: \"lots\" is not an amount; left empty");
  EXPECT_THAT(r->warnings[1].reason, HasSubstr("close: \"2030-13-45\""));
  ASSERT_EQ(r->rejected.size(), 1u);
  EXPECT_EQ(r->rejected[0].line, 4);
  EXPECT_EQ(r->rejected[0].reason, "no id");
}

TEST(CrmImportTest, YesNoAndEnumCellsThatAreNeitherAreLeftOut) {
  ImportMapping m = *ParseImportMapping(R"yaml(
columns:
  Id: id
  Champion: relationship.has_champion
  Budget: budget_status
  Staff: account.employees
)yaml",
                                        "m.yaml");
  absl::StatusOr<ImportResult> r = ImportCsv(
      "Id,Champion,Budget,Staff\n"
      "a-1,Yes,approved,10\n"
      "a-2,maybe,sort of,99999999999999999999\n",
      m, "acme", kNow, "x.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->rejected, IsEmpty());
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_TRUE(r->events[0].opportunity().relationship().has_champion());
  EXPECT_EQ(r->events[0].opportunity().budget_status(),
            v1::BUDGET_STATUS_APPROVED);
  EXPECT_FALSE(r->events[1].opportunity().relationship().has_champion());
  ASSERT_EQ(r->warnings.size(), 3u);
  EXPECT_EQ(r->warnings[0].reason,
            "Champion: \"maybe\" is not yes or no; left empty");
  EXPECT_EQ(r->warnings[1].reason,
            "Budget: \"sort of\" is not a BudgetStatus; left empty");
  EXPECT_THAT(r->warnings[2].reason, HasSubstr("is too large"));
}

// Found by fuzz/csv_import_fuzz.cc: a cell in Windows-1252 (as Excel saves
// "CSV") went into the event as is, and an event that is not UTF-8 can't be
// sent: the whole PushEvents message failed.
TEST(CrmImportTest, CellsThatAreNotUtf8AreLeftOut) {
  ImportMapping m = *ParseImportMapping(R"yaml(
columns:
  Id: id
  Account: account.name
  Region: attributes.region
)yaml",
                                        "m.yaml");
  absl::StatusOr<ImportResult> r = ImportCsv(
      "Id,Account,Region\n"
      "a-1,M\xfcller GmbH,K\xf6ln\n"
      "a-\xe9,Acme,North\n"
      "a-3,M\xc3\xbcller GmbH,\n",
      m, "acme", kNow, "x.csv");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->events[0].opportunity_id(), "a-1");
  EXPECT_FALSE(r->events[0].opportunity().has_account());
  EXPECT_THAT(r->events[0].opportunity().attributes(), IsEmpty());
  EXPECT_EQ(r->events[1].opportunity().account().name(), "M\xc3\xbcller GmbH");
  ASSERT_EQ(r->warnings.size(), 3u);
  EXPECT_EQ(r->warnings[0].line, 2);
  EXPECT_EQ(r->warnings[0].reason,
            "Account: \"M\\xfcller GmbH\" is not UTF-8 text (export the file "
            "as UTF-8); left empty");
  EXPECT_THAT(r->warnings[1].reason, HasSubstr("Region: \"K\\xf6ln\""));
  EXPECT_THAT(r->warnings[2].reason, HasSubstr("Id: \"a-\\xe9\""));
  ASSERT_EQ(r->rejected.size(), 1u);
  EXPECT_EQ(r->rejected[0].line, 3);
  EXPECT_EQ(r->rejected[0].reason, "no id");
}

TEST(CrmImportTest, BadMappingsAndFilesNameTheProblem) {
  EXPECT_THAT(PresetMapping("zoho").status().message(),
              HasSubstr("--from: \"zoho\" is not one of salesforce"));
  EXPECT_THAT(
      ParseImportMapping("columns: {A: nope}", "m.yaml").status().message(),
      HasSubstr("m.yaml: columns.A: \"nope\" is not a field"));
  EXPECT_THAT(
      ParseImportMapping("colums: {A: id}", "m.yaml").status().message(),
      HasSubstr("colums: unknown key"));
  EXPECT_THAT(ParseImportMapping("columns: {A: id}\ncurrency: ZZZ", "m.yaml")
                  .status()
                  .message(),
              HasSubstr("currency: not an ISO 4217 currency"));
  ImportMapping m = *ParseImportMapping("columns: {Name: name}", "m.yaml");
  EXPECT_THAT(
      ImportCsv("Name\nx\n", m, "acme", kNow, "f.csv").status().message(),
      HasSubstr("f.csv:1: no column is mapped to id"));
}

TEST(ParseAmountTest, AsExportsWriteThem) {
  struct Case {
    const char* text;
    int64_t units;
    int32_t nanos;
    const char* currency;
  };
  for (const Case& c : std::vector<Case>{
           {"1200000", 1200000, 0, ""},
           {"1,200,000.00", 1200000, 0, ""},
           {"$1,200,000.50", 1200000, 500000000, ""},
           {"1.200.000,50 €", 1200000, 500000000, "EUR"},
           {"EUR 60 000", 60000, 0, "EUR"},
           {"1,5", 1, 500000000, ""},
           {"1.234", 1234, 0, ""},
           {"R$ 2.500,00", 2500, 0, "BRL"},
           {"US$75", 75, 0, "USD"},
           {"$1,200", 1200, 0, ""},  // several currencies use "$"
           {"0.125", 0, 125000000, ""},
           {"0,500", 0, 500000000, ""},
           {"1234.567", 1234, 567000000, ""},
           {"1,234,567.89", 1234567, 890000000, ""},
           {"€.50", 0, 500000000, "EUR"},
           {".50", 0, 500000000, ""},
           {"1\xc2\xa0"
            "234\xc2\xa0"
            "567,89",
            1234567, 890000000, ""},  // NBSP
           // Seen writing fuzz/csv_import_fuzz.cc (its plain-decimal check):
           // nanos that round up to a whole unit carry into the units.
           {"1999.9999999999", 2000, 0, ""},
           {"0.9999999996", 1, 0, ""},
           {"4.9999999994", 4, 999999999, ""},
       }) {
    SCOPED_TRACE(c.text);
    std::optional<ParsedAmount> a = ParseAmount(c.text);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->money.units(), c.units);
    EXPECT_EQ(a->money.nanos(), c.nanos);
    EXPECT_EQ(a->money.currency_code(), c.currency);
  }
  for (const char* bad : {"", "lots", "-5", "(1,000)", "$", "12 parrots",
                          "12.05.2024", "1.2.3", "1,23,4"}) {
    EXPECT_EQ(ParseAmount(bad), std::nullopt) << bad;
  }
}

TEST(ParseDateTest, TheFormatsInOrderThenRfc3339) {
  const std::vector<std::string> us = {"%m/%d/%Y", "%m/%d/%Y %I:%M %p"};
  EXPECT_EQ(ParseDate("11/30/2030", us),
            absl::FromCivil(absl::CivilDay(2030, 11, 30), absl::UTCTimeZone()));
  EXPECT_EQ(ParseDate("11/20/2026 10:15 AM", us),
            absl::FromCivil(absl::CivilMinute(2026, 11, 20, 10, 15),
                            absl::UTCTimeZone()));
  EXPECT_EQ(ParseDate("2026-11-20T10:15:00Z", us),
            absl::FromCivil(absl::CivilMinute(2026, 11, 20, 10, 15),
                            absl::UTCTimeZone()));
  EXPECT_EQ(ParseDate("30/11/2030", us), std::nullopt);
}

}  // namespace
}  // namespace oppmatrix
