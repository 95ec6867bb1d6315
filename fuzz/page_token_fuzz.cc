// Fuzzes the listing RPCs' page tokens (services/store/page_token.h). The
// input is decoded as a token of tenant "acme": of the cell KEY's listing
// and of the transitions. It is also read as a cursor to encode: the first 8
// bytes a score (a double's bits) and the rest an opportunity id, the first
// 16 bytes a stream id. Checked, beyond "no crash and no sanitizer report":
//   - a refused token is INVALID_ARGUMENT "page_token: ...";
//   - an accepted token has a finite score and an id (a stream id above
//     0-0), is refused for another tenant, cell or RPC, and encoding its
//     cursor again gives a token that decodes to the same cursor;
//   - every cursor a store can hand out (a finite score, an id that fits)
//     encodes to a token that decodes to exactly that cursor, and
//     ScoreArgument reads back as the same double.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "fuzz/fuzz_util.h"
#include "services/store/page_token.h"

namespace oppmatrix {
namespace {

constexpr char kTenant[] = "acme";
constexpr char kCell[] = "KEY";

void CheckRefused(const absl::Status& s) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "%s",
             s.ToString().c_str());
  FUZZ_CHECK(absl::StartsWith(s.message(), "page_token: "), "%s",
             s.ToString().c_str());
}

bool SameScore(double a, double b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

void DecodeCell(absl::string_view token) {
  absl::StatusOr<CellCursor> c = DecodeCellPageToken(token, kTenant, kCell);
  if (!c.ok()) {
    CheckRefused(c.status());
    return;
  }
  FUZZ_CHECK(std::isfinite(c->score) && !c->opportunity_id.empty());
  CheckRefused(DecodeCellPageToken(token, "acme2", kCell).status());
  CheckRefused(DecodeCellPageToken(token, kTenant, "DEVELOP").status());
  CheckRefused(DecodeTransitionPageToken(token, kTenant).status());
  absl::StatusOr<CellCursor> again = DecodeCellPageToken(
      EncodeCellPageToken(kTenant, kCell, *c), kTenant, kCell);
  FUZZ_CHECK(again.ok() && SameScore(again->score, c->score) &&
             again->opportunity_id == c->opportunity_id);
}

void DecodeTransitions(absl::string_view token) {
  absl::StatusOr<StreamCursor> c = DecodeTransitionPageToken(token, kTenant);
  if (!c.ok()) {
    CheckRefused(c.status());
    return;
  }
  FUZZ_CHECK(c->ms != 0 || c->seq != 0);
  CheckRefused(DecodeTransitionPageToken(token, "acme2").status());
  CheckRefused(DecodeCellPageToken(token, kTenant, "").status());
  absl::StatusOr<StreamCursor> again = DecodeTransitionPageToken(
      EncodeTransitionPageToken(kTenant, *c), kTenant);
  FUZZ_CHECK(again.ok() && again->ms == c->ms && again->seq == c->seq);
}

void EncodeCell(double score, absl::string_view id) {
  if (!std::isfinite(score) || id.empty()) return;
  const std::string arg = ScoreArgument(score);
  FUZZ_CHECK(SameScore(std::strtod(arg.c_str(), nullptr), score), "%s",
             arg.c_str());
  const CellCursor in{score, std::string(id)};
  const std::string token = EncodeCellPageToken(kTenant, kCell, in);
  absl::StatusOr<CellCursor> out = DecodeCellPageToken(token, kTenant, kCell);
  if (token.size() > kMaxPageTokenBytes) {
    FUZZ_CHECK(!out.ok());
    return;
  }
  FUZZ_CHECK(out.ok(), "score %s: %s", arg.c_str(),
             out.status().ToString().c_str());
  FUZZ_CHECK(SameScore(out->score, score) && out->opportunity_id == id);
}

void EncodeTransitions(uint64_t ms, uint64_t seq) {
  if (ms == 0 && seq == 0) return;
  absl::StatusOr<StreamCursor> out = DecodeTransitionPageToken(
      EncodeTransitionPageToken(kTenant, {.ms = ms, .seq = seq}), kTenant);
  FUZZ_CHECK(out.ok() && out->ms == ms && out->seq == seq, "%s",
             out.status().ToString().c_str());
}

}  // namespace
}  // namespace oppmatrix

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oppmatrix;
  const absl::string_view input = fuzz::Text(data, size);
  DecodeCell(input);
  DecodeTransitions(input);
  if (size >= 8) {
    double score;
    std::memcpy(&score, data, sizeof(score));
    EncodeCell(score, input.substr(8));
  }
  if (size >= 16) {
    uint64_t ms, seq;
    std::memcpy(&ms, data, sizeof(ms));
    std::memcpy(&seq, data + 8, sizeof(seq));
    EncodeTransitions(ms, seq);
  }
  return 0;
}
