// Validation of opportunities before classification. Every problem becomes a
// google.rpc.BadRequest field violation whose path starts at the caller's
// prefix, e.g. "opportunity.amount.units".
//
// Limits (documented in the README):
//   id, account.id, stage, owner, product, account.industry: 128 bytes
//   tenant_id: 64 bytes of [A-Za-z0-9._-]
//   name, account.name: 256 bytes;  account.country: 8 bytes
//   attributes: 64 entries, keys 64 bytes, values 1024 bytes
//
//   std::vector<FieldViolation> v;
//   ValidateOpportunity(request.opportunity(), "opportunity", v);
//   if (!v.empty()) return InvalidArgumentWithViolations("invalid", v);
#ifndef OPPMATRIX_SERVICES_ENGINE_OPPORTUNITY_VALIDATOR_H_
#define OPPMATRIX_SERVICES_ENGINE_OPPORTUNITY_VALIDATOR_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/status_util.h"

namespace oppmatrix {

inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxTenantIdBytes = 64;
inline constexpr size_t kMaxNameBytes = 256;
inline constexpr size_t kMaxShortTextBytes = 128;
inline constexpr size_t kMaxCountryBytes = 8;
inline constexpr size_t kMaxAttributes = 64;
inline constexpr size_t kMaxAttributeKeyBytes = 64;
inline constexpr size_t kMaxAttributeValueBytes = 1024;

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
