// Fuzzes oppctl's CSV input: the RFC 4180 reader (CsvRows), CSV files of
// field paths (ParseOpportunitiesCsv), and CRM exports through the import
// mappings (ImportCsv with each built-in preset, ParseAmount and ParseDate on
// every cell). An input with a line "%%" is a mapping's YAML before it
// (ParseImportMapping) and the CSV after; without one, all of it is the
// CSV. Checked, beyond "no crash and no sanitizer report":
//   - every error is INVALID_ARGUMENT;
//   - rows have fields and come in line order;
//   - the field-path reader gives one opportunity per data row, with UTF-8
//     strings only;
//   - an import accounts for every data row (imported or rejected), in line
//     order, and each event is an upsert of the tenant with the row's id, a
//     positive version and UTF-8 strings only (it is sent over gRPC);
//   - an amount is non-negative with nanos 0-999999999, its currency set
//     exactly when it says it has one, and a plain decimal ("0.99995") is
//     its value.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "clients/oppctl/crm_import.h"
#include "clients/oppctl/opportunity_input.h"
#include "fuzz/fuzz_util.h"

namespace oppmatrix {
namespace {

constexpr absl::string_view kSeparator = "\n%%\n";
constexpr char kTenant[] = "acme";
// 2026-11-23 12:00:00 UTC.
const absl::Time kNow = absl::FromUnixSeconds(1795435200);

void CheckInvalidArgument(const absl::Status& s) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, "%s",
             s.ToString().c_str());
}

// "1999.9999999999": digits, a point and four or more digits (so no
// thousands grouping), whose value strtod knows.
std::optional<double> PlainDecimal(const std::string& cell) {
  const size_t point = cell.find('.');
  if (point == std::string::npos || point == 0 || point > 12 ||
      cell.size() - point - 1 < 4 ||
      cell.find_first_not_of("0123456789.") != std::string::npos ||
      cell.find('.', point + 1) != std::string::npos) {
    return std::nullopt;
  }
  return std::strtod(cell.c_str(), nullptr);
}

void CheckCells(const std::vector<std::string>& fields,
                const ImportMapping& mapping) {
  for (const std::string& cell : fields) {
    if (std::optional<ParsedAmount> a = ParseAmount(cell)) {
      const long long units = a->money.units();
      const int nanos = a->money.nanos();
      FUZZ_CHECK(units >= 0 && nanos >= 0 && nanos <= 999999999,
                 "\"%s\": %lld units %d nanos", cell.c_str(), units, nanos);
      FUZZ_CHECK(a->has_currency == !a->money.currency_code().empty());
      if (std::optional<double> v = PlainDecimal(cell)) {
        const double got = static_cast<double>(units) + nanos * 1e-9;
        FUZZ_CHECK(std::fabs(got - *v) <= 1e-6 * std::max(1.0, *v),
                   "\"%s\": %lld units %d nanos", cell.c_str(), units, nanos);
      }
    }
    ParseDate(cell, mapping.date_formats);
  }
}

void Import(absl::string_view csv, const ImportMapping& mapping) {
  absl::StatusOr<ImportResult> r =
      ImportCsv(csv, mapping, kTenant, kNow, "fuzz.csv");
  if (!r.ok()) {
    CheckInvalidArgument(r.status());
    return;
  }
  FUZZ_CHECK(r->events.size() == r->lines.size());
  FUZZ_CHECK(
      static_cast<int64_t>(r->events.size() + r->rejected.size()) == r->rows,
      "%zu events + %zu rejected != %lld rows", r->events.size(),
      r->rejected.size(), static_cast<long long>(r->rows));
  for (size_t i = 0; i < r->events.size(); ++i) {
    const v1::CrmEvent& e = r->events[i];
    FUZZ_CHECK(i == 0 || r->lines[i] > r->lines[i - 1]);
    FUZZ_CHECK(e.type() == v1::OPPORTUNITY_UPSERTED);
    FUZZ_CHECK(e.tenant_id() == kTenant &&
               e.opportunity().tenant_id() == kTenant);
    FUZZ_CHECK(!e.opportunity_id().empty() &&
               e.opportunity_id() == e.opportunity().id());
    FUZZ_CHECK(e.version() > 0 && e.opportunity().version() == e.version());
    FUZZ_CHECK(fuzz::AllStringsUtf8(e), "line %d: a string is not UTF-8",
               r->lines[i]);
  }
}

}  // namespace
}  // namespace oppmatrix

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oppmatrix;
  absl::string_view csv = fuzz::Text(data, size);
  std::optional<ImportMapping> custom;
  std::vector<const ImportMapping*> mappings;
  if (size_t at = csv.find(kSeparator); at != absl::string_view::npos) {
    absl::StatusOr<ImportMapping> m =
        ParseImportMapping(csv.substr(0, at), "fuzz.yaml");
    csv.remove_prefix(at + kSeparator.size());
    if (!m.ok()) {
      CheckInvalidArgument(m.status());
      return 0;
    }
    custom = *std::move(m);
    mappings.push_back(&*custom);
  } else {
    static const std::vector<ImportMapping>* const presets = [] {
      auto* out = new std::vector<ImportMapping>();
      for (const std::string& name : PresetNames()) {
        absl::StatusOr<ImportMapping> m = PresetMapping(name);
        FUZZ_CHECK(m.ok(), "%s: %s", name.c_str(),
                   m.status().ToString().c_str());
        out->push_back(*std::move(m));
      }
      return out;
    }();
    for (const ImportMapping& m : *presets) mappings.push_back(&m);
  }

  auto rows = CsvRows(csv, "fuzz.csv");
  if (!rows.ok()) {
    CheckInvalidArgument(rows.status());
  } else {
    for (size_t i = 0; i < rows->size(); ++i) {
      FUZZ_CHECK((*rows)[i].first >= 1 &&
                 (i == 0 || (*rows)[i].first > (*rows)[i - 1].first));
      FUZZ_CHECK(!(*rows)[i].second.empty());
      CheckCells((*rows)[i].second, *mappings.front());
    }
    absl::StatusOr<std::vector<v1::Opportunity>> opps =
        ParseOpportunitiesCsv(csv, "fuzz.csv");
    if (!opps.ok()) {
      CheckInvalidArgument(opps.status());
    } else {
      FUZZ_CHECK(opps->size() + 1 == rows->size());
      for (const v1::Opportunity& o : *opps) {
        FUZZ_CHECK(fuzz::AllStringsUtf8(o), "a string is not UTF-8");
      }
    }
  }
  for (const ImportMapping* mapping : mappings) Import(csv, *mapping);
  return 0;
}
