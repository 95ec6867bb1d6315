// A CRM's own CSV export turned into CrmEvents for the bus: a mapping of
// the export's columns onto opportunity fields (built in for Salesforce,
// HubSpot, Dynamics 365, Odoo and Pipedrive, or a YAML file), with the
// dates, amounts and numbers those exports write converted.
//
// A mapping (the presets in clients/oppctl/import_presets/ are examples):
//
//   columns:                      # the export's header -> a field path
//     Opportunity ID: id
//     Amount: amount              # "$1,200,000.00", "1.200.000,50 €"
//     Close Date: expected_close_time
//     Type: attributes.type       # a map key
//   version: Last Modified Date   # the column whose date is the version
//   date_formats: ["%m/%d/%Y"]    # absl::ParseTime formats, tried in order
//   currency: USD                 # when an amount names none
//   values:                       # raw value -> value, per field
//     stage: {"Won (paid)": CLOSED_WON}
//   scales:                       # a number times this, per field
//     probability: 100            # HubSpot writes 0.6 for 60 %
//
// Headers match whatever their case and surrounding spaces; columns the
// mapping doesn't name are ignored. A value that can't be converted (a
// date in no known format, an amount that is not a number, text that is
// not UTF-8) is messy: the field is left empty and a warning names the
// line, the column and the value. A row is rejected only when it has no id
// or its values make no opportunity at all.
//
//   absl::StatusOr<ImportMapping> m = PresetMapping("salesforce");
//   absl::StatusOr<ImportResult> r = ImportCsv(text, *m, "acme", now, path);
#ifndef OPPMATRIX_CLIENTS_OPPCTL_CRM_IMPORT_H_
#define OPPMATRIX_CLIENTS_OPPCTL_CRM_IMPORT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/type/money.pb.h"
#include "oppmatrix/v1/crm_event.pb.h"

namespace oppmatrix {

struct ImportMapping {
  // The preset's name or the mapping file's path (in event ids and errors).
  std::string name;
  // Header -> field path, in the mapping's order.
  std::vector<std::pair<std::string, std::string>> columns;
  std::string version_column;
  std::vector<std::string> date_formats;
  std::string currency;
  // Field path -> (raw value, case-insensitive -> value).
  std::map<std::string, std::map<std::string, std::string>> values;
  std::map<std::string, double> scales;
};

// The built-in presets: salesforce, hubspot, dynamics, odoo, pipedrive.
std::vector<std::string> PresetNames();
// INVALID_ARGUMENT naming the presets for an unknown name.
absl::StatusOr<ImportMapping> PresetMapping(absl::string_view crm);
// A mapping from YAML; INVALID_ARGUMENT naming `name` and the key (an
// unknown key, a field path that is not a field of an opportunity).
absl::StatusOr<ImportMapping> ParseImportMapping(absl::string_view yaml,
                                                 absl::string_view name);

// A problem of one CSV line.
struct ImportIssue {
  int line = 0;
  std::string reason;
};

struct ImportResult {
  // Data rows read.
  int64_t rows = 0;
  // One upsert event per imported row, and the line it came from.
  std::vector<v1::CrmEvent> events;
  std::vector<int> lines;
  // Rows not imported, and values left out of imported rows.
  std::vector<ImportIssue> rejected;
  std::vector<ImportIssue> warnings;
};

// The rows of `csv` (RFC 4180, a header row first) as OPPORTUNITY_UPSERTED
// events of `tenant`. Each event's version is its row's `version` date in
// microseconds, or `now`'s when there is none, so a later export of the
// same deals supersedes an earlier one. INVALID_ARGUMENT for a file that
// can't be read as CSV or whose header has no column mapped to `id`.
absl::StatusOr<ImportResult> ImportCsv(absl::string_view csv,
                                       const ImportMapping& mapping,
                                       const std::string& tenant,
                                       absl::Time now, absl::string_view name);

// An amount as exports write it: "1200000", "$1,200,000.00", "1.200.000,50
// €", "EUR 60 000"; not "-5" or "(1,000)" (negative) or "12 parrots". The
// currency is the symbol's or code's when it names one (NormalizeCurrency),
// else "" (also for "$" or "kr", which several currencies use).
struct ParsedAmount {
  google::type::Money money;
  bool has_currency = false;
};
std::optional<ParsedAmount> ParseAmount(absl::string_view text);

// A date in the first of `formats` that parses it (UTC), or RFC 3339.
std::optional<absl::Time> ParseDate(absl::string_view text,
                                    const std::vector<std::string>& formats);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_OPPCTL_CRM_IMPORT_H_
