// Helpers shared by the engine tests: the fixed clock every test injects,
// opportunities written as text protos, and the rulesets under test.
//
//   const CompiledRuleset& rules = DefaultRules();
//   v1::Opportunity opp = ParseOpportunity(R"pb(id: "o1" tenant_id: "t")pb");
//   v1::Classification c = ClassifyValidated(opp, rules, TestNow(), {});
#ifndef OPPMATRIX_TESTS_ENGINE_ENGINE_TEST_UTIL_H_
#define OPPMATRIX_TESTS_ENGINE_ENGINE_TEST_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "oppmatrix/v1/ruleset.pb.h"
#include "services/common/file_util.h"
#include "services/common/hash_util.h"
#include "services/common/status_util.h"
#include "services/engine/ruleset.h"

namespace oppmatrix::testutil {

inline constexpr char kDefaultRulesPath[] =
    OPPMATRIX_SOURCE_DIR "/rules/default.yaml";
inline constexpr char kMinimalRulesPath[] =
    OPPMATRIX_SOURCE_DIR "/tests/engine/testdata/minimal.yaml";

// The clock every engine test injects: 2026-11-23 12:00:00 UTC.
inline absl::Time TestNow() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 23, 12, 0, 0),
                         absl::UTCTimeZone());
}

inline google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1000000000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return ts;
}

// TestNow() plus `d` (negative for the past).
inline google::protobuf::Timestamp FromNow(absl::Duration d) {
  return ToTimestamp(TestNow() + d);
}

inline absl::Duration Days(double days) { return absl::Hours(24 * days); }

// Parses a text proto; a parse error fails the current test.
template <typename T>
T ParseText(absl::string_view text) {
  T message;
  if (!google::protobuf::TextFormat::ParseFromString(std::string(text),
                                                     &message)) {
    ADD_FAILURE() << "bad text proto for " << T::descriptor()->full_name()
                  << ":\n"
                  << text;
  }
  return message;
}

inline v1::Opportunity ParseOpportunity(absl::string_view text) {
  return ParseText<v1::Opportunity>(text);
}

// The deterministic binary encoding of a message (map entries sorted).
using ::oppmatrix::DeterministicBytes;

inline std::string ReadFileOrDie(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", text.status().ToString().c_str());
    std::abort();
  }
  return *text;
}

// rules/default.yaml as a proto, for tests that change one part of it.
inline v1::Ruleset DefaultRulesetProto() {
  absl::StatusOr<v1::Ruleset> rules =
      ParseRulesetYaml(ReadFileOrDie(kDefaultRulesPath));
  if (!rules.ok()) {
    std::fprintf(stderr, "%s\n", rules.status().ToString().c_str());
    std::abort();
  }
  return *rules;
}

// Compiles `rules`; a validation error fails the current test and gives
// null.
inline std::shared_ptr<const CompiledRuleset> CompileOrFail(v1::Ruleset rules) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> compiled =
      CompileRuleset(std::move(rules));
  if (!compiled.ok()) {
    ADD_FAILURE() << compiled.status();
    return nullptr;
  }
  return *compiled;
}

// rules/default.yaml, loaded once. A broken default ruleset aborts: every
// test depends on it.
inline const CompiledRuleset& DefaultRules() {
  static const std::shared_ptr<const CompiledRuleset>* const rules = [] {
    absl::StatusOr<std::shared_ptr<const CompiledRuleset>> loaded =
        LoadRulesetFile(kDefaultRulesPath);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      std::abort();
    }
    return new std::shared_ptr<const CompiledRuleset>(*std::move(loaded));
  }();
  return **rules;
}

// The field paths of the BadRequest violations `status` carries.
inline std::vector<std::string> ViolationFields(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : GetFieldViolations(status)) {
    fields.push_back(v.field());
  }
  return fields;
}

}  // namespace oppmatrix::testutil

#endif  // OPPMATRIX_TESTS_ENGINE_ENGINE_TEST_UTIL_H_
