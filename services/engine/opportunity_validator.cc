#include "services/engine/opportunity_validator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/util/time_util.h"

namespace oppmatrix {

using google::protobuf::util::TimeUtil;

bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= TimeUtil::kTimestampMinSeconds &&
         ts.seconds() <= TimeUtil::kTimestampMaxSeconds && ts.nanos() >= 0 &&
         ts.nanos() <= 999999999;
}

namespace {

// "opportunity" + "amount" -> "opportunity.amount"; either may be empty.
std::string JoinPath(absl::string_view prefix, absl::string_view field) {
  if (prefix.empty()) return std::string(field);
  if (field.empty()) return std::string(prefix);
  return absl::StrCat(prefix, ".", field);
}

class Checker {
 public:
  Checker(absl::string_view prefix, std::vector<FieldViolation>& out)
      : prefix_(prefix), out_(out) {}

  void Add(absl::string_view field, absl::string_view what) {
    AddViolation(out_, JoinPath(prefix_, field), what);
  }

  // The hard limit, and UTF-8; in ids, no control characters either.
  void Text(absl::string_view field, absl::string_view value, size_t max,
            bool is_id) {
    if (value.size() > max) {
      Add(field,
          absl::StrCat("must be at most ", max, " bytes, got ", value.size()));
      return;
    }
    if (!google::protobuf::internal::IsStructurallyValidUTF8(
            value.data(), static_cast<int>(value.size()))) {
      Add(field, "must be UTF-8 text");
      return;
    }
    if (!is_id) return;
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        Add(field, "must not contain control characters");
        return;
      }
    }
  }

  void NonNegative(absl::string_view field, int64_t value) {
    if (value < 0) {
      Add(field, absl::StrCat("must not be negative, got ", value));
    }
  }

  template <typename IsValid>
  void Enum(absl::string_view field, int value, IsValid is_valid) {
    if (!is_valid(value)) {
      Add(field, absl::StrCat("unknown enum value ", value));
    }
  }

  void Time(absl::string_view field, bool present,
            const google::protobuf::Timestamp& ts) {
    if (present && !IsValidTimestamp(ts)) {
      Add(field, kInvalidTimestamp);
    }
  }

  // The amount itself; its currency code is a text (TextLimits()), and an
  // unknown or missing one is messy: the engine reports it.
  void Money(absl::string_view field, bool present,
             const google::type::Money& m) {
    if (!present) return;
    if (m.nanos() < -999999999 || m.nanos() > 999999999) {
      Add(absl::StrCat(field, ".nanos"),
          "must be between -999999999 and 999999999");
    } else if ((m.units() > 0 && m.nanos() < 0) ||
               (m.units() < 0 && m.nanos() > 0)) {
      Add(absl::StrCat(field, ".nanos"), "must have the sign of units");
    }
    if (m.units() < 0) {
      Add(absl::StrCat(field, ".units"), "must not be negative");
    } else if (m.units() == 0 && m.nanos() < 0) {
      Add(absl::StrCat(field, ".nanos"), "must not be negative");
    }
  }

 private:
  absl::string_view prefix_;
  std::vector<FieldViolation>& out_;
};

bool IsTenantChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

const std::vector<TextLimit>& TextLimits() {
  using v1::Opportunity;
  static const auto* const kLimits = new std::vector<TextLimit>{
      {"id", kMaxIdBytes, true,
       [](const Opportunity& o) -> const std::string& { return o.id(); }},
      {"name", kMaxNameBytes, false,
       [](const Opportunity& o) -> const std::string& { return o.name(); }},
      {"stage", kMaxLabelBytes, false,
       [](const Opportunity& o) -> const std::string& { return o.stage(); }},
      {"amount.currency_code", kMaxCurrencyBytes, false,
       [](const Opportunity& o) -> const std::string& {
         return o.amount().currency_code();
       }},
      {"owner", kMaxLabelBytes, false,
       [](const Opportunity& o) -> const std::string& { return o.owner(); }},
      {"product", kMaxLabelBytes, false,
       [](const Opportunity& o) -> const std::string& { return o.product(); }},
      {"account.id", kMaxIdBytes, true,
       [](const Opportunity& o) -> const std::string& {
         return o.account().id();
       }},
      {"account.name", kMaxNameBytes, false,
       [](const Opportunity& o) -> const std::string& {
         return o.account().name();
       }},
      {"account.industry", kMaxLabelBytes, false,
       [](const Opportunity& o) -> const std::string& {
         return o.account().industry();
       }},
      {"account.annual_revenue.currency_code", kMaxCurrencyBytes, false,
       [](const Opportunity& o) -> const std::string& {
         return o.account().annual_revenue().currency_code();
       }},
      {"account.country", kMaxLabelBytes, false,
       [](const Opportunity& o) -> const std::string& {
         return o.account().country();
       }},
  };
  return *kLimits;
}

void ValidateTenantId(absl::string_view value, absl::string_view field,
                      std::vector<FieldViolation>& violations) {
  if (value.empty()) {
    AddViolation(violations, field, "is required");
  } else if (value.size() > kMaxTenantIdBytes) {
    AddViolation(violations, field,
                 absl::StrCat("must be at most ", kMaxTenantIdBytes,
                              " bytes, got ", value.size()));
  } else if (!std::all_of(value.begin(), value.end(), IsTenantChar)) {
    AddViolation(violations, field, "must contain only [A-Za-z0-9._-]");
  }
}

void ValidateRequiredId(absl::string_view value, absl::string_view field,
                        std::vector<FieldViolation>& violations) {
  if (value.empty()) {
    AddViolation(violations, field, "is required");
    return;
  }
  Checker(field, violations).Text("", value, kMaxIdBytes, /*is_id=*/true);
}

void ValidateOpportunity(const v1::Opportunity& opp, absl::string_view prefix,
                         std::vector<FieldViolation>& violations) {
  Checker c(prefix, violations);
  if (opp.id().empty()) c.Add("id", "is required");
  ValidateTenantId(opp.tenant_id(), JoinPath(prefix, "tenant_id"), violations);
  c.NonNegative("version", opp.version());
  for (const TextLimit& limit : TextLimits()) {
    c.Text(limit.field, limit.get(opp), limit.max_bytes, limit.is_id);
  }

  c.Money("amount", opp.has_amount(), opp.amount());
  c.Time("created_time", opp.has_created_time(), opp.created_time());
  c.Time("expected_close_time", opp.has_expected_close_time(),
         opp.expected_close_time());
  c.Time("need_by_time", opp.has_need_by_time(), opp.need_by_time());
  c.Enum("need_urgency", opp.need_urgency(), v1::NeedUrgency_IsValid);
  c.Enum("budget_status", opp.budget_status(), v1::BudgetStatus_IsValid);
  if (!std::isfinite(opp.probability())) {
    c.Add("probability", "must be a finite number");
  } else if (opp.probability() < 0 || opp.probability() > 100) {
    c.Add("probability",
          absl::StrCat("must be between 0 and 100, got ", opp.probability()));
  }

  const v1::Account& a = opp.account();
  c.NonNegative("account.employees", a.employees());
  c.Money("account.annual_revenue", a.has_annual_revenue(), a.annual_revenue());
  c.Enum("account.customer_type", a.customer_type(), v1::CustomerType_IsValid);

  const v1::Relationship& r = opp.relationship();
  c.NonNegative("relationship.contacts_engaged", r.contacts_engaged());
  c.NonNegative("relationship.meetings_last_90_days",
                r.meetings_last_90_days());
  c.NonNegative("relationship.won_deals_with_account",
                r.won_deals_with_account());
  c.Time("relationship.last_interaction_time", r.has_last_interaction_time(),
         r.last_interaction_time());
  // Every field of SignalTimes is a time.
  const v1::SignalTimes& times = opp.signal_times();
  const google::protobuf::Reflection* reflection = times.GetReflection();
  for (int i = 0; i < times.GetDescriptor()->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f =
        times.GetDescriptor()->field(i);
    c.Time(absl::StrCat("signal_times.", f->name()),
           reflection->HasField(times, f),
           static_cast<const google::protobuf::Timestamp&>(
               reflection->GetMessage(times, f)));
  }

  if (opp.attributes_size() > static_cast<int>(kMaxAttributes)) {
    c.Add("attributes", absl::StrCat("must have at most ", kMaxAttributes,
                                     " entries, got ", opp.attributes_size()));
    return;
  }
  for (const auto& [key, value] : opp.attributes()) {
    if (key.empty() || key.size() > kMaxAttributeKeyBytes) {
      c.Add("attributes", absl::StrCat("keys must be 1 to ",
                                       kMaxAttributeKeyBytes, " bytes"));
    } else if (!google::protobuf::internal::IsStructurallyValidUTF8(
                   key.data(), static_cast<int>(key.size()))) {
      c.Add("attributes", "keys must be UTF-8 text");
    } else {
      c.Text(absl::StrCat("attributes[", key, "]"), value,
             kMaxAttributeValueBytes, /*is_id=*/false);
    }
  }
}

}  // namespace oppmatrix
