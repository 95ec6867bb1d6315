// Page tokens: what Encode gives out decodes to the same cursor, and
// anything else (garbage, foreign, tampered, oversized) is INVALID_ARGUMENT
// on page_token before a store would see it.
#include "services/store/page_token.h"

#include <limits>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

void ExpectRejected(const absl::Status& status, absl::string_view token) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << token;
  EXPECT_THAT(std::string(status.message()), StartsWith("page_token: "))
      << token;
}

TEST(PageTokenTest, CellTokensRoundTrip) {
  for (double score : {0.0, -0.0, 0.1, 73.25, 1e-300, -5.5, 1e308}) {
    for (const std::string id : {"opp-1", "a|b", "ünïcode", "line\nbreak"}) {
      std::string token = EncodeCellPageToken("acme", "KEY", {score, id});
      absl::StatusOr<CellCursor> c = DecodeCellPageToken(token, "acme", "KEY");
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_EQ(c->score, score);
      EXPECT_EQ(c->opportunity_id, id);
      EXPECT_EQ(ScoreArgument(c->score), ScoreArgument(score));
    }
  }
}

TEST(PageTokenTest, TransitionTokensRoundTrip) {
  StreamCursor in{.ms = 1763900000000, .seq = 7};
  absl::StatusOr<StreamCursor> out =
      DecodeTransitionPageToken(EncodeTransitionPageToken("acme", in), "acme");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->ToString(), "1763900000000-7");
}

TEST(PageTokenTest, ForeignTokensAreRejected) {
  std::string cell = EncodeCellPageToken("acme", "KEY", {1, "opp-1"});
  std::string transitions =
      EncodeTransitionPageToken("acme", {.ms = 5, .seq = 0});
  for (absl::Status s :
       {DecodeCellPageToken(cell, "other", "KEY").status(),
        DecodeCellPageToken(cell, "acme", "EXIT").status(),
        DecodeCellPageToken(transitions, "acme", "").status(),
        DecodeTransitionPageToken(cell, "acme").status(),
        DecodeTransitionPageToken(transitions, "other").status()}) {
    ExpectRejected(s, "foreign");
    EXPECT_THAT(std::string(s.message()), HasSubstr("another listing"));
  }
}

// What an outside harness sent: base64 of the old "<score>|<id>" form with
// scores Redis refuses, and a stream id below every entry.
TEST(PageTokenTest, TamperedAndMalformedTokensAreRejected) {
  auto b64 = [](absl::string_view raw) {
    return absl::WebSafeBase64Escape(raw);
  };
  for (const std::string& token :
       {std::string("x"), std::string("garbage!"), b64("nan|opp-1"),
        b64("-nan|opp-1"), b64("5 |opp-1"), b64("5|"), b64(""),
        b64("L1\nwrong\n5\nopp-1"), std::string(kMaxPageTokenBytes + 1, 'A')}) {
    ExpectRejected(DecodeCellPageToken(token, "acme", "KEY").status(), token);
  }
  // Well-formed envelopes whose cursor Redis would refuse.
  std::string good = EncodeCellPageToken("acme", "KEY", {5, "opp-1"});
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(good, &raw));
  const std::string prefix = raw.substr(0, raw.find('\n', 3) + 1);
  for (const std::string cursor :
       {"nan\nopp-1", "-nan\nopp-1", "inf\nopp-1", "5 \nopp-1", " 5\nopp-1",
        "5.0\nopp-1", "0x5\nopp-1", "5\n", "5"}) {
    ExpectRejected(
        DecodeCellPageToken(b64(prefix + cursor), "acme", "KEY").status(),
        cursor);
  }
  good = EncodeTransitionPageToken("acme", {.ms = 5, .seq = 0});
  ASSERT_TRUE(absl::WebSafeBase64Unescape(good, &raw));
  const std::string tprefix = raw.substr(0, raw.find('\n', 3) + 1);
  for (const std::string cursor : {"0-0", "-1-0", "5", "5-", "5-0 ", "05-0",
                                   "5-0-1", "18446744073709551616-0", "a-b"}) {
    ExpectRejected(
        DecodeTransitionPageToken(b64(tprefix + cursor), "acme").status(),
        cursor);
  }
  ExpectRejected(DecodeTransitionPageToken(b64("0-0"), "acme").status(), "0-0");
}

TEST(PageTokenTest, OversizedTokenSaysTheLimit) {
  absl::Status s =
      DecodeCellPageToken(std::string(5000, 'A'), "acme", "KEY").status();
  ExpectRejected(s, "long");
  EXPECT_THAT(std::string(s.message()), HasSubstr("at most 1024"));
}

}  // namespace
}  // namespace oppmatrix
