#include "clients/oppctl/format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "oppmatrix/v1/dimensions.pb.h"
#include "services/common/status_util.h"

namespace oppmatrix {
namespace {

// CUSTOMER_TYPE_LARGE_ENTERPRISE -> "LARGE_ENTERPRISE"; unspecified -> "-".
template <typename E>
std::string Short(const google::protobuf::EnumDescriptor* type, E value) {
  if (static_cast<int>(value) == 0) return "-";
  const auto* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(static_cast<int>(value));
  const std::string& name = v->name();
  const std::string& first = type->value(0)->name();  // X_UNSPECIFIED
  size_t prefix = first.size() - std::string("UNSPECIFIED").size();
  return name.substr(prefix);
}

std::string GradeLetter(v1::Grade g) {
  return Short(v1::Grade_descriptor(), g);
}

std::string Row(absl::string_view label, absl::string_view value) {
  return absl::StrFormat("%-13s %s\n", label, value);
}

}  // namespace

std::string FormatClassificationTable(const v1::Classification& c) {
  std::string out;
  absl::StrAppend(&out, Row("opportunity",
                            absl::StrCat(c.opportunity_id(), "  (tenant ",
                                         c.tenant_id(), ", version ",
                                         c.opportunity_version(), ")")));
  absl::StrAppend(&out, Row("cell", absl::StrCat(c.cell(), "  ", c.cell_label())));
  absl::StrAppend(
      &out, Row("grade", absl::StrFormat("%s   priority %.2f",
                                         GradeLetter(c.grade()),
                                         c.priority_score())));
  absl::StrAppend(&out,
                  Row("scores", absl::StrFormat(
                                    "potential %.2f   relationship %.2f",
                                    c.potential_score(),
                                    c.relationship_score())));
  absl::StrAppend(
      &out,
      Row("customer",
          absl::StrCat(Short(v1::CustomerType_descriptor(), c.customer_type()),
                       ", value ",
                       Short(v1::ValueTier_descriptor(), c.value_tier()),
                       ", industry ",
                       Short(v1::Industry_descriptor(), c.industry()))));
  absl::StrAppend(
      &out,
      Row("need / stage",
          absl::StrCat(Short(v1::NeedUrgency_descriptor(), c.need_urgency()),
                       " need, ",
                       Short(v1::BuyingStage_descriptor(), c.buying_stage()),
                       " stage")));
  absl::StrAppend(&out, Row("action", c.action().code()));
  absl::StrAppend(&out, Row("", c.action().playbook()));
  bool first = true;
  for (const v1::Reason& r : c.reasons()) {
    std::string axis = r.axis() == v1::AXIS_POTENTIAL      ? "potential"
                       : r.axis() == v1::AXIS_RELATIONSHIP ? "relationship"
                                                           : "note";
    std::string line =
        r.axis() == v1::AXIS_UNSPECIFIED
            ? absl::StrFormat("%7s  %-12s  %s", "!", axis, r.detail())
            : absl::StrFormat("%+7.2f  %-12s  %s (%s)", r.contribution(), axis,
                              r.factor(), r.detail());
    absl::StrAppend(&out, Row(first ? "reasons" : "", line));
    first = false;
  }
  if (!c.previous_cell().empty()) {
    absl::StrAppend(&out, Row("previous", c.previous_cell()));
  }
  absl::StrAppend(
      &out,
      Row("ruleset",
          absl::StrCat(c.ruleset_version(), "   classified ",
                       absl::FormatTime(
                           "%Y-%m-%dT%H:%M:%SZ",
                           absl::FromUnixSeconds(c.classified_time().seconds()),
                           absl::UTCTimeZone()))));
  return out;
}

std::string FormatJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string FormatError(const absl::Status& status) {
  std::vector<FieldViolation> violations = GetFieldViolations(status);
  if (violations.empty()) {
    return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                        status.message(), "\n");
  }
  // The message repeats the violations on one line; list them instead.
  std::string out =
      absl::StrCat(absl::StatusCodeToString(status.code()), ":\n");
  for (const FieldViolation& v : violations) {
    absl::StrAppend(&out, "  ", v.field(), ": ", v.description(), "\n");
  }
  return out;
}

}  // namespace oppmatrix
