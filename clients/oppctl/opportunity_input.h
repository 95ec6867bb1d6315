// Reads opportunities for oppctl: one opportunity as JSON (proto3 canonical
// JSON, as protobuf's JSON mapping reads it) or as YAML (mapped field by
// field, errors naming the key path).
//
//   absl::StatusOr<v1::Opportunity> o = ParseOpportunity(text, "auto", path);
#ifndef OPPMATRIX_CLIENTS_OPPCTL_OPPORTUNITY_INPUT_H_
#define OPPMATRIX_CLIENTS_OPPCTL_OPPORTUNITY_INPUT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "oppmatrix/v1/opportunity.pb.h"

namespace oppmatrix {

// `format` is "json", "yaml" or "auto" (by the file name's extension, else
// JSON when the text starts with '{', else YAML). `name` is used in errors.
absl::StatusOr<v1::Opportunity> ParseOpportunity(absl::string_view text,
                                                 absl::string_view format,
                                                 absl::string_view name);

// Many opportunities from JSONL: one JSON opportunity per line, blank
// lines skipped; errors name the file and the line.
absl::StatusOr<std::vector<v1::Opportunity>> ParseOpportunitiesJsonl(
    absl::string_view text, absl::string_view name);

// Many opportunities from CSV (RFC 4180: quoted fields, "" inside quotes,
// CRLF or LF). The header row names a field path per column, e.g. `id`,
// `tenant_id`, `stage`, `account.industry`, `relationship.has_champion`,
// `attributes.region` (a map key). A Money column takes "60000 EUR" (or use
// `amount.units` and `amount.currency_code`), a Timestamp RFC 3339, an enum
// its name; an empty cell leaves the field unset. Errors name the file, the
// line and the field path.
absl::StatusOr<std::vector<v1::Opportunity>> ParseOpportunitiesCsv(
    absl::string_view text, absl::string_view name);

// Splits CSV text (RFC 4180; a UTF-8 BOM is skipped) into rows of fields,
// each with the 1-based line it starts on; blank lines are skipped. Errors
// name `name` and the line.
absl::StatusOr<std::vector<std::pair<int, std::vector<std::string>>>> CsvRows(
    absl::string_view text, absl::string_view name);

// The field at a dotted path below Opportunity ("account.industry"); for
// "attributes.<key>" the map field, with *map_entry set. Null when there is
// none.
const google::protobuf::FieldDescriptor* OpportunityFieldAt(
    absl::string_view path, bool* map_entry);

// Reads a file, or standard input for "-".
absl::StatusOr<std::string> ReadInput(const std::string& path);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_OPPCTL_OPPORTUNITY_INPUT_H_
