// Fuzzes what the classifier does with a request's opportunity: the input
// is a v1::Opportunity as a text proto (the seed corpus is written so) or,
// when it is not one, in the binary encoding, as it arrives over gRPC. It is
// validated (ValidateOpportunity), then classified with rules/default.yaml
// (compiled in) at a fixed time. Checked, beyond "no crash and no sanitizer
// report":
//   - Classify refuses exactly what the validator refuses, with
//     INVALID_ARGUMENT and the same field paths below "opportunity";
//   - a valid opportunity's classification keeps the promised ranges
//     (CheckClassification), is the same twice, and without reasons differs
//     only by its reasons.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_util.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "services/engine/engine.h"
#include "services/engine/opportunity_validator.h"
#include "services/engine/ruleset.h"

namespace oppmatrix {
namespace {

#include "fuzz/default_ruleset.inc"  // kDefaultRuleset: {"default", yaml}

const CompiledRuleset& DefaultRules() {
  static const std::shared_ptr<const CompiledRuleset>* const rules = [] {
    absl::StatusOr<std::shared_ptr<const CompiledRuleset>> loaded =
        LoadRulesetYaml(kDefaultRuleset[0].second);
    FUZZ_CHECK(loaded.ok(), "rules/default.yaml: %s",
               loaded.status().ToString().c_str());
    return new std::shared_ptr<const CompiledRuleset>(*std::move(loaded));
  }();
  return **rules;
}

// 2026-11-23 12:00:00 UTC, the engine tests' clock.
absl::Time Now() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 23, 12, 0, 0),
                         absl::UTCTimeZone());
}

// Text format errors are expected: most inputs are not text protos.
class Quiet : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
  void AddWarning(int, int, const std::string&) override {}
};

bool Parse(absl::string_view input, v1::Opportunity& opp) {
  Quiet quiet;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&quiet);
  google::protobuf::io::ArrayInputStream stream(input.data(),
                                                static_cast<int>(input.size()));
  if (parser.Parse(&stream, &opp)) return true;
  opp.Clear();
  return opp.ParseFromArray(input.data(), static_cast<int>(input.size()));
}

std::vector<std::string> Fields(const std::vector<FieldViolation>& v) {
  std::vector<std::string> out;
  for (const FieldViolation& f : v) out.push_back(f.field());
  return out;
}

}  // namespace
}  // namespace oppmatrix

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oppmatrix;
  const CompiledRuleset& rules = DefaultRules();
  v1::Opportunity opp;
  if (!Parse(fuzz::Text(data, size), opp)) return 0;
  std::vector<FieldViolation> violations;
  ValidateOpportunity(opp, "opportunity", violations);
  absl::StatusOr<v1::Classification> c = Classify(opp, rules, Now(), {});
  if (!violations.empty()) {
    FUZZ_CHECK(!c.ok() &&
               c.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(Fields(GetFieldViolations(c.status())) == Fields(violations));
    for (const FieldViolation& v : violations) {
      FUZZ_CHECK(fuzz::IsUtf8(v.description()), "%s", v.field().c_str());
    }
    return 0;
  }
  FUZZ_CHECK(c.ok(), "%s", c.status().ToString().c_str());
  fuzz::CheckClassification(*c, opp, rules);
  absl::StatusOr<v1::Classification> again = Classify(opp, rules, Now(), {});
  FUZZ_CHECK(again.ok() && fuzz::Bytes(*again) == fuzz::Bytes(*c));
  absl::StatusOr<v1::Classification> bare =
      Classify(opp, rules, Now(), {.with_reasons = false});
  FUZZ_CHECK(bare.ok() && bare->reasons().empty());
  v1::Classification without = *c;
  without.clear_reasons();
  FUZZ_CHECK(fuzz::Bytes(*bare) == fuzz::Bytes(without),
             "the reasons changed the result");
  return 0;
}
