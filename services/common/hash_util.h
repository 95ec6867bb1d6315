// Stable content hashes: SHA-256 over a message's deterministic encoding, so
// equal messages give equal hashes across processes and versions.
//
//   std::string v = Sha256Hex(DeterministicBytes(ruleset)).substr(0, 12);
#ifndef OPPMATRIX_SERVICES_COMMON_HASH_UTIL_H_
#define OPPMATRIX_SERVICES_COMMON_HASH_UTIL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace oppmatrix {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Lower-case hex SHA-1 of `data` (how Redis names a script: EVALSHA).
std::string Sha1Hex(absl::string_view data);

// The message encoded with deterministic serialization (map entries
// sorted).
std::string DeterministicBytes(const google::protobuf::MessageLite& message);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_HASH_UTIL_H_
