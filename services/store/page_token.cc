#include "services/store/page_token.h"

#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/hash_util.h"

namespace oppmatrix {
namespace {

// A token is web-safe base64 of "<kind>\n<binding>\n<cursor>": the kind and
// format version ("L1" a cell listing, "T1" transitions), the listing it
// belongs to (12 hex digits of SHA-256 over tenant and cell), the cursor.
constexpr char kCellKind[] = "L1";
constexpr char kTransitionKind[] = "T1";

std::string Binding(absl::string_view kind, absl::string_view tenant_id,
                    absl::string_view cell) {
  const absl::string_view nul("\0", 1);
  return Sha256Hex(absl::StrCat(kind, nul, tenant_id, nul, cell)).substr(0, 12);
}

absl::Status NotOurs() {
  return absl::InvalidArgumentError(
      "page_token: is not a token this service gave out");
}

// The token's cursor text, once its kind and binding are checked.
absl::StatusOr<std::string> Open(absl::string_view token,
                                 absl::string_view kind,
                                 absl::string_view tenant_id,
                                 absl::string_view cell) {
  if (token.size() > kMaxPageTokenBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: must be at most ", kMaxPageTokenBytes,
                     " characters, got ", token.size()));
  }
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return NotOurs();
  std::vector<std::string> parts =
      absl::StrSplit(raw, absl::MaxSplits('\n', 2));
  if (parts.size() != 3 ||
      (parts[0] != kCellKind && parts[0] != kTransitionKind)) {
    return NotOurs();
  }
  if (parts[0] != kind || parts[1] != Binding(kind, tenant_id, cell)) {
    return absl::InvalidArgumentError(
        "page_token: belongs to another listing (another tenant, cell or "
        "RPC); start again without a token");
  }
  return std::move(parts[2]);
}

std::string Seal(absl::string_view kind, absl::string_view tenant_id,
                 absl::string_view cell, absl::string_view cursor) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(kind, "\n", Binding(kind, tenant_id, cell), "\n", cursor));
}

}  // namespace

std::string StreamCursor::ToString() const {
  return absl::StrCat(ms, "-", seq);
}

std::string ScoreArgument(double score) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", score);
  return buf;
}

std::string EncodeCellPageToken(absl::string_view tenant_id,
                                absl::string_view cell,
                                const CellCursor& cursor) {
  return Seal(
      kCellKind, tenant_id, cell,
      absl::StrCat(ScoreArgument(cursor.score), "\n", cursor.opportunity_id));
}

absl::StatusOr<CellCursor> DecodeCellPageToken(absl::string_view token,
                                               absl::string_view tenant_id,
                                               absl::string_view cell) {
  absl::StatusOr<std::string> text = Open(token, kCellKind, tenant_id, cell);
  if (!text.ok()) return text.status();
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(*text, absl::MaxSplits('\n', 1));
  CellCursor cursor;
  // Only the exact text Encode wrote: no spaces, no "nan" or "inf", which
  // Redis would refuse as a range bound.
  if (parts.second.empty() || !absl::SimpleAtod(parts.first, &cursor.score) ||
      !std::isfinite(cursor.score) ||
      ScoreArgument(cursor.score) != parts.first) {
    return NotOurs();
  }
  cursor.opportunity_id = std::string(parts.second);
  return cursor;
}

std::string EncodeTransitionPageToken(absl::string_view tenant_id,
                                      const StreamCursor& cursor) {
  return Seal(kTransitionKind, tenant_id, "", cursor.ToString());
}

absl::StatusOr<StreamCursor> DecodeTransitionPageToken(
    absl::string_view token, absl::string_view tenant_id) {
  absl::StatusOr<std::string> text =
      Open(token, kTransitionKind, tenant_id, "");
  if (!text.ok()) return text.status();
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(*text, absl::MaxSplits('-', 1));
  StreamCursor cursor;
  if (!absl::SimpleAtoi(parts.first, &cursor.ms) ||
      !absl::SimpleAtoi(parts.second, &cursor.seq) ||
      cursor.ToString() != *text || (cursor.ms == 0 && cursor.seq == 0)) {
    return NotOurs();
  }
  return cursor;
}

}  // namespace oppmatrix
