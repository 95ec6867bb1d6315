// Helpers for the libFuzzer targets in fuzz/: an invariant check that
// aborts (so libFuzzer records the input as a crash, and the corpus replay
// test fails), the input as text and as lines, and the invariants of
// messages the targets check (UTF-8 strings, a classification's ranges).
// Linking it turns protobuf's log off (its invalid-UTF-8 lines would slow
// every run down; the targets check that themselves).
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     for (absl::string_view line : fuzz::Lines(fuzz::Text(data, size))) {
//       absl::StatusOr<v1::CrmEvent> e = ParseCrmEventJson(line);
//       FUZZ_CHECK(e.ok() || !e.status().message().empty());
//     }
//     return 0;
//   }
#ifndef OPPMATRIX_FUZZ_FUZZ_UTIL_H_
#define OPPMATRIX_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/common.h"
#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/hash_util.h"
#include "services/engine/ruleset.h"

// Aborts with the condition and its place when `cond` is false; any further
// arguments are printed with printf (a message saying which value broke it).
#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,          \
                   __LINE__, #cond);                                           \
      __VA_OPT__(std::fprintf(stderr, __VA_ARGS__); std::fputc('\n', stderr);) \
      std::abort();                                                            \
    }                                                                          \
  } while (false)

namespace oppmatrix::fuzz {

inline absl::string_view Text(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// The lines of `text` ("\n"-separated; a trailing empty one dropped).
inline std::vector<absl::string_view> Lines(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

inline bool IsUtf8(absl::string_view s) {
  return google::protobuf::internal::IsStructurallyValidUTF8(
      s.data(), static_cast<int>(s.size()));
}

// Every string field of `message` and its sub-messages (repeated and map
// fields included) is UTF-8, as proto3 requires of a message that is sent.
bool AllStringsUtf8(const google::protobuf::Message& message);

// Checks what every classification of a valid `opportunity` by `rules`
// promises (aborting when it does not): its identity, scores 0-100, bands
// and cell of the ruleset's matrix, known enum values, finite reason
// contributions, at most max_reasons factor reasons, UTF-8 strings.
void CheckClassification(const v1::Classification& c,
                         const v1::Opportunity& opportunity,
                         const CompiledRuleset& rules);

// The deterministic binary encoding of `message`, for comparing results.
inline std::string Bytes(const google::protobuf::Message& message) {
  return DeterministicBytes(message);
}

}  // namespace oppmatrix::fuzz

#endif  // OPPMATRIX_FUZZ_FUZZ_UTIL_H_
