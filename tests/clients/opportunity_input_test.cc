#include "clients/oppctl/opportunity_input.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;

TEST(ParseOpportunitiesCsvTest, ReadsFieldPathsQuotesMoneyAndMaps) {
  const std::string csv =
      "\xEF\xBB\xBFid,tenant_id,name,amount,account.employees,"
      "relationship.has_champion,relationship.last_interaction_time,"
      "need_urgency,attributes.region\r\n"
      "a,acme,\"ERP, phase 2\",1200000.5 CNY,3000,true,"
      "2026-11-20T10:00:00Z,urgent,east\r\n"
      "\r\n"
      "b,acme,\"Say \"\"hi\"\"\nsecond line\",-3 USD,,,,,\n";
  auto opps = ParseOpportunitiesCsv(csv, "in.csv");
  ASSERT_TRUE(opps.ok()) << opps.status();
  ASSERT_EQ(opps->size(), 2u);
  const v1::Opportunity& a = (*opps)[0];
  EXPECT_EQ(a.id(), "a");
  EXPECT_EQ(a.name(), "ERP, phase 2");
  EXPECT_EQ(a.amount().currency_code(), "CNY");
  EXPECT_EQ(a.amount().units(), 1200000);
  EXPECT_EQ(a.amount().nanos(), 500000000);
  EXPECT_EQ(a.account().employees(), 3000);
  EXPECT_TRUE(a.relationship().has_champion());
  EXPECT_EQ(a.relationship().last_interaction_time().seconds(), 1795168800);
  EXPECT_EQ(a.need_urgency(), v1::NEED_URGENCY_URGENT);
  EXPECT_EQ(a.attributes().at("region"), "east");
  const v1::Opportunity& b = (*opps)[1];
  EXPECT_EQ(b.name(), "Say \"hi\"\nsecond line");
  EXPECT_EQ(b.amount().units(), -3);
  EXPECT_FALSE(b.has_account());  // empty cells leave fields unset
}

TEST(ParseOpportunitiesCsvTest, ErrorsNameTheLineAndTheField) {
  EXPECT_THAT(ParseOpportunitiesCsv("id,account.employees\nx,lots\n", "f.csv")
                  .status()
                  .message(),
              HasSubstr("f.csv:2: account.employees: expected a whole number"));
  EXPECT_THAT(
      ParseOpportunitiesCsv("id,colour\nx,red\n", "f.csv").status().message(),
      HasSubstr("f.csv:2: colour: unknown key"));
  EXPECT_THAT(ParseOpportunitiesCsv("id,name\nx\n", "f.csv").status().message(),
              HasSubstr("f.csv:2: 1 fields, the header has 2"));
  EXPECT_THAT(
      ParseOpportunitiesCsv("id,name\nx,\"open\n", "f.csv").status().message(),
      HasSubstr("f.csv:2: a quoted field is not closed"));
  EXPECT_THAT(
      ParseOpportunitiesCsv("id,name\nx,a\"b\n", "f.csv").status().message(),
      HasSubstr("f.csv:2: a quote inside an unquoted field"));
  EXPECT_THAT(
      ParseOpportunitiesCsv("amount,amount.currency_code\n60000,EUR\n", "f.csv")
          .status()
          .message(),
      HasSubstr("f.csv:2: column \"amount.currency_code\" conflicts"));
  EXPECT_THAT(
      ParseOpportunitiesCsv("account.industry,account\nretail,x\n", "f.csv")
          .status()
          .message(),
      HasSubstr("column \"account\" conflicts"));
  EXPECT_THAT(ParseOpportunitiesCsv("", "f.csv").status().message(),
              HasSubstr("no header row"));
  // Seen writing fuzz/csv_import_fuzz.cc (UBSan): "--9223372036854775808 USD"
  // was read as a negative amount and negated, which overflows; an amount
  // has one sign.
  for (const char* amount :
       {"--9223372036854775808 USD", "--5 USD", "-+5 USD", "5.-3 USD"}) {
    EXPECT_THAT(ParseOpportunitiesCsv(
                    absl::StrCat("id,amount\nx,", amount, "\n"), "f.csv")
                    .status()
                    .message(),
                HasSubstr("f.csv:2: amount: expected a mapping"))
        << amount;
  }
  // Found by fuzz/csv_import_fuzz.cc: a Windows-1252 cell went into the
  // request, which then could not be sent.
  EXPECT_THAT(ParseOpportunitiesCsv("id,account.name\nx,M\xfcller\n", "f.csv")
                  .status()
                  .message(),
              HasSubstr("f.csv:2: account.name: expected UTF-8 text"));
}

TEST(ParseOpportunitiesJsonlTest, SkipsBlankLinesAndNamesTheBadLine) {
  auto ok = ParseOpportunitiesJsonl("{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n", "x");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 2u);
  EXPECT_THAT(ParseOpportunitiesJsonl("{\"id\":\"a\"}\n{oops\n", "x.jsonl")
                  .status()
                  .message(),
              HasSubstr("x.jsonl:2"));
}

}  // namespace
}  // namespace oppmatrix
