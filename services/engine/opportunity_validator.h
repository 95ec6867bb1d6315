// Validation of opportunities before classification. Every problem becomes a
// google.rpc.BadRequest field violation whose path starts at the caller's
// prefix, e.g. "opportunity.amount.units".
//
// The rule: *invalid* is what cannot be classified safely, and only that is
// a violation: no id or tenant, a negative or non-finite amount, an
// unknown enum number, a negative version (0 is "unversioned" here; the
// bus requires a positive one), a probability outside 0-100, a timestamp
// outside years 1-9999, a string that is not UTF-8, a size past a hard limit
// (TextLimits(), the README's limits table). *Messy* is everything a CRM lets
// people type: unknown or long labels, names where codes were expected ("United
// States" as a country, "usd" or "€" as a currency), odd case and spacing, line
// breaks, typos. Messy values are never a violation: the engine classifies the
// dimension they feed as unspecified (or ignores the value), the rest of the
// result stands, and a reason names the raw value so an admin can add an alias.
//
// The hard limits are sized from the CRMs' own field limits, with margin
// for UTF-8 (up to 4 bytes a character): Salesforce Opportunity.Name 120
// characters, picklists 255, BillingCountry 80; Dataverse opportunity name
// 300, account name 160, single-line text 4,000; Pipedrive text 255;
// HubSpot text properties 65,536 (bounded here by the 64 KiB event);
// Odoo Char fields unbounded.
//
//   std::vector<FieldViolation> v;
//   ValidateOpportunity(request.opportunity(), "opportunity", v);
//   if (!v.empty()) return InvalidArgumentWithViolations("invalid", v);
#ifndef OPPMATRIX_SERVICES_ENGINE_OPPORTUNITY_VALIDATOR_H_
#define OPPMATRIX_SERVICES_ENGINE_OPPORTUNITY_VALIDATOR_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/status_util.h"

namespace oppmatrix {

// Ids (opportunity, account): Salesforce's are 18 bytes, Dataverse's GUIDs
// 36, HubSpot's, Odoo's and Pipedrive's integers.
inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxTenantIdBytes = 64;
// Names of the deal and the account.
inline constexpr size_t kMaxNameBytes = 4096;
// Labels: stage, industry, owner, product, country.
inline constexpr size_t kMaxLabelBytes = 2048;
// Currency codes ("EUR", but also "US Dollar" or "€").
inline constexpr size_t kMaxCurrencyBytes = 255;
inline constexpr size_t kMaxAttributes = 256;
inline constexpr size_t kMaxAttributeKeyBytes = 255;
inline constexpr size_t kMaxAttributeValueBytes = 8192;

// One text field of an opportunity and its hard limit.
struct TextLimit {
  // The field's path below the opportunity, e.g. "account.name".
  absl::string_view field;
  size_t max_bytes;
  // Ids are keys: control characters are invalid in them. Everywhere else
  // they are messy (a line break in a name) and kept.
  bool is_id;
  const std::string& (*get)(const v1::Opportunity&);
};

// Every text field's limit, in field order: what ValidateOpportunity checks
// and the README's limits table lists.
const std::vector<TextLimit>& TextLimits();

// Whether a timestamp is within years 1 to 9999 with nanos 0 to 999,999,999
// (kInvalidTimestamp says so when it is not).
bool IsValidTimestamp(const google::protobuf::Timestamp& ts);
inline constexpr char kInvalidTimestamp[] =
    "must be a valid timestamp between years 1 and 9999";

// `field` (a full path) must be a tenant id: 1 to kMaxTenantIdBytes bytes of
// [A-Za-z0-9._-] (so it is safe inside Redis key hash tags).
void ValidateTenantId(absl::string_view value, absl::string_view field,
                      std::vector<FieldViolation>& violations);

// `field` must be a non-empty id of at most kMaxIdBytes bytes without
// control characters.
void ValidateRequiredId(absl::string_view value, absl::string_view field,
                        std::vector<FieldViolation>& violations);

// Appends one violation per problem of `opp`; `prefix` (e.g. "opportunity"
// or "opportunities[3]") starts every field path.
void ValidateOpportunity(const v1::Opportunity& opp, absl::string_view prefix,
                         std::vector<FieldViolation>& violations);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_ENGINE_OPPORTUNITY_VALIDATOR_H_
