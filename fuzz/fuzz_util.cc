#include "fuzz/fuzz_util.h"

#include <cmath>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/stubs/logging.h"
#include "oppmatrix/v1/dimensions.pb.h"

namespace oppmatrix::fuzz {
namespace {

// Protobuf logs each string that is not UTF-8 it parses or serializes; the
// targets check that themselves, and the lines would slow every run down.
[[maybe_unused]] const bool kProtobufLogOff = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();

}  // namespace

bool AllStringsUtf8(const google::protobuf::Message& message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          if (!IsUtf8(reflection->GetRepeatedString(message, field, i))) {
            return false;
          }
        }
      } else if (!IsUtf8(reflection->GetString(message, field))) {
        return false;
      }
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          if (!AllStringsUtf8(
                  reflection->GetRepeatedMessage(message, field, i))) {
            return false;
          }
        }
      } else if (!AllStringsUtf8(reflection->GetMessage(message, field))) {
        return false;
      }
    }
  }
  return true;
}

namespace {

bool Score(double s) { return std::isfinite(s) && s >= 0 && s <= 100; }

}  // namespace

void CheckClassification(const v1::Classification& c,
                         const v1::Opportunity& opportunity,
                         const CompiledRuleset& rules) {
  FUZZ_CHECK(c.tenant_id() == opportunity.tenant_id());
  FUZZ_CHECK(c.opportunity_id() == opportunity.id());
  FUZZ_CHECK(c.opportunity_version() == opportunity.version());
  FUZZ_CHECK(c.ruleset_version() == rules.version);
  FUZZ_CHECK(Score(c.potential_score()), "%g", c.potential_score());
  FUZZ_CHECK(Score(c.relationship_score()), "%g", c.relationship_score());
  FUZZ_CHECK(Score(c.priority_score()), "%g", c.priority_score());
  FUZZ_CHECK(c.potential_band() >= 0 &&
             c.potential_band() < rules.potential_bands);
  FUZZ_CHECK(c.relationship_band() >= 0 &&
             c.relationship_band() < rules.relationship_bands);
  const v1::Cell* cell =
      rules.cells[c.potential_band() * rules.relationship_bands +
                  c.relationship_band()];
  FUZZ_CHECK(cell != nullptr && c.cell() == cell->id() && !c.cell().empty());
  FUZZ_CHECK(c.grade() != v1::GRADE_UNSPECIFIED &&
             v1::Grade_IsValid(c.grade()));
  FUZZ_CHECK(c.value_tier() != v1::VALUE_TIER_UNSPECIFIED &&
             v1::ValueTier_IsValid(c.value_tier()));
  FUZZ_CHECK(v1::CustomerType_IsValid(c.customer_type()));
  FUZZ_CHECK(v1::NeedUrgency_IsValid(c.need_urgency()));
  FUZZ_CHECK(v1::BuyingStage_IsValid(c.buying_stage()));
  FUZZ_CHECK(v1::Industry_IsValid(c.industry()));
  int factor_reasons = 0;
  for (const v1::Reason& r : c.reasons()) {
    FUZZ_CHECK(std::isfinite(r.contribution()), "%s: %g", r.factor().c_str(),
               r.contribution());
    if (r.axis() != v1::AXIS_UNSPECIFIED) ++factor_reasons;
  }
  FUZZ_CHECK(factor_reasons <= rules.proto.explain().max_reasons(), "%d > %d",
             factor_reasons, rules.proto.explain().max_reasons());
  if (c.has_amount()) {
    FUZZ_CHECK(c.amount().currency_code() == rules.proto.base_currency());
    FUZZ_CHECK(c.amount().units() >= 0 && c.amount().nanos() >= 0 &&
               c.amount().nanos() <= 999999999);
  }
  FUZZ_CHECK(AllStringsUtf8(c));
}

}  // namespace oppmatrix::fuzz
