// Page tokens of the listing RPCs: opaque to clients, checked in full before
// any Redis call. A token names what it pages (a tenant's cell, or its
// transitions) and where the next page starts. Decoding rejects a token that
// is malformed, oversized, for another listing (another tenant, cell or
// RPC), or whose cursor Redis would refuse (a score that is not a finite
// number, a stream id that no entry can have), so a tampered token is the
// client's INVALID_ARGUMENT on `page_token`, never a Redis error.
//
// Tokens are not signed: a well-formed token that was edited only moves the
// start of the page within the same listing, which the caller could read
// anyway.
//
//   std::string t = EncodeCellPageToken("acme", "KEY", {0.73, "opp-9"});
//   absl::StatusOr<CellCursor> c = DecodeCellPageToken(t, "acme", "KEY");
#ifndef OPPMATRIX_SERVICES_STORE_PAGE_TOKEN_H_
#define OPPMATRIX_SERVICES_STORE_PAGE_TOKEN_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace oppmatrix {

// Longest page token accepted, in characters.
inline constexpr size_t kMaxPageTokenBytes = 1024;

// Where a ListOpportunities page resumes: after the entry with this score
// (priority) and id, in the cell's order (score descending, then id).
struct CellCursor {
  double score = 0;
  std::string opportunity_id;
};

// Where a ListTransitions page resumes: before this stream entry id.
struct StreamCursor {
  uint64_t ms = 0;
  uint64_t seq = 0;

  // "<ms>-<seq>", as Redis writes it.
  std::string ToString() const;
};

std::string EncodeCellPageToken(absl::string_view tenant_id,
                                absl::string_view cell,
                                const CellCursor& cursor);

// INVALID_ARGUMENT "page_token: ..." unless `token` came from
// EncodeCellPageToken with the same tenant and cell.
absl::StatusOr<CellCursor> DecodeCellPageToken(absl::string_view token,
                                               absl::string_view tenant_id,
                                               absl::string_view cell);

std::string EncodeTransitionPageToken(absl::string_view tenant_id,
                                      const StreamCursor& cursor);

// INVALID_ARGUMENT "page_token: ..." unless `token` came from
// EncodeTransitionPageToken with the same tenant and a stream id above 0-0.
absl::StatusOr<StreamCursor> DecodeTransitionPageToken(
    absl::string_view token, absl::string_view tenant_id);

// The score as Redis parses it back to the same double ("%.17g"): what the
// Lua script receives for a cursor.
std::string ScoreArgument(double score);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_PAGE_TOKEN_H_
