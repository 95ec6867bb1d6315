#include "clients/oppctl/crm_import.h"

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "clients/oppctl/opportunity_input.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/common.h"
#include "oppmatrix/v1/opportunity.pb.h"
#include "services/common/enum_names.h"
#include "services/common/yaml_proto.h"
#include "services/engine/iso_codes.h"
#include "yaml-cpp/yaml.h"

namespace oppmatrix {
namespace {

// name -> YAML text, generated from clients/oppctl/import_presets/*.yaml.
#include "clients/oppctl/import_presets.inc"

using google::protobuf::FieldDescriptor;

std::string Lower(absl::string_view s) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(s));
}

bool IsMoney(const FieldDescriptor* f) {
  return f->message_type() != nullptr &&
         f->message_type()->full_name() == "google.type.Money";
}
bool IsTimestamp(const FieldDescriptor* f) {
  return f->message_type() != nullptr &&
         f->message_type()->full_name() == "google.protobuf.Timestamp";
}

// A number as exports write it, with thousands separators ("," "." "'"
// and spaces, also non-breaking ones) and a decimal separator ("." or ","),
// read as a person would: with both kinds, the last one is the decimal
// point; with one kind, used once, it separates thousands only when it is
// followed by exactly three digits and preceded by one to three (not "0");
// used more than once, every group after the first must have three digits.
// Anything else ("12.05.2024", "1.2.3") is not a number.
std::optional<double> ParseNumber(absl::string_view text) {
  std::string s(text);
  for (const char* space : {"\xc2\xa0", "\xe2\x80\xaf", "\xe2\x80\x89"}) {
    s = absl::StrReplaceAll(s, {{space, ""}});
  }
  std::string digits;
  for (char c : s) {
    if (c == ' ' || c == '\'' || c == '_') continue;
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != ',' &&
        c != '.') {
      return std::nullopt;
    }
    digits.push_back(c);
  }
  if (digits.empty()) return std::nullopt;
  // Groups of digits between separators, and the separators.
  std::vector<std::string> groups(1);
  std::string seps;
  for (char c : digits) {
    if (c == ',' || c == '.') {
      seps.push_back(c);
      groups.emplace_back();
    } else {
      groups.back().push_back(c);
    }
  }
  std::string plain;
  auto thousands_ok = [&](size_t from, size_t to) {  // groups[from..to)
    if (groups[0].empty() || groups[0].size() > 3 || groups[0] == "0") {
      return false;
    }
    for (size_t g = from; g < to; ++g) {
      if (groups[g].size() != 3) return false;
    }
    return true;
  };
  const bool two_kinds = seps.find_first_not_of(seps[0]) != std::string::npos;
  if (seps.empty()) {
    plain = groups[0];
  } else if (two_kinds) {
    // "1,234.5" / "1.234,5": the last separator is the decimal point, the
    // others (all of the other kind) group thousands.
    const char decimal = seps.back();
    if (seps.substr(0, seps.size() - 1).find(decimal) != std::string::npos ||
        !thousands_ok(1, groups.size() - 1)) {
      return std::nullopt;
    }
    for (size_t g = 0; g + 1 < groups.size(); ++g) plain += groups[g];
    plain += "." + groups.back();
  } else if (seps.size() == 1 && !thousands_ok(1, 2)) {
    plain = (groups[0].empty() ? "0" : groups[0]) + "." + groups[1];
  } else {
    if (!thousands_ok(1, groups.size())) return std::nullopt;
    for (const std::string& g : groups) plain += g;
  }
  double value = 0;
  if (!absl::SimpleAtod(plain, &value) || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

absl::Status MappingError(absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", what));
}

}  // namespace

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const auto& [name, yaml] : kImportPresets) names.emplace_back(name);
  return names;
}

absl::StatusOr<ImportMapping> PresetMapping(absl::string_view crm) {
  for (const auto& [name, yaml] : kImportPresets) {
    if (Lower(crm) == name) return ParseImportMapping(yaml, name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--from: \"", crm, "\" is not one of ",
                   absl::StrJoin(PresetNames(), ", ")));
}

absl::StatusOr<ImportMapping> ParseImportMapping(absl::string_view yaml,
                                                 absl::string_view name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return MappingError(name, absl::StrCat("not YAML: ", e.msg));
  }
  if (!root.IsMap()) return MappingError(name, "must be a mapping");
  ImportMapping m;
  m.name = std::string(name);
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "columns") {
        if (!v.IsMap()) return MappingError(name, "columns: must be a mapping");
        for (const auto& c : v) {
          const std::string column = c.first.as<std::string>();
          const std::string path = c.second.as<std::string>();
          bool map_entry = false;
          if (OpportunityFieldAt(path, &map_entry) == nullptr) {
            return MappingError(
                name, absl::StrCat("columns.", column, ": \"", path,
                                   "\" is not a field of an opportunity"));
          }
          m.columns.emplace_back(column, path);
        }
      } else if (key == "version") {
        m.version_column = v.as<std::string>();
      } else if (key == "date_formats") {
        m.date_formats = v.as<std::vector<std::string>>();
      } else if (key == "currency") {
        std::optional<std::string> code =
            NormalizeCurrency(v.as<std::string>());
        if (!code.has_value()) {
          return MappingError(name, "currency: not an ISO 4217 currency");
        }
        m.currency = *code;
      } else if (key == "values") {
        for (const auto& f : v) {
          auto& table = m.values[f.first.as<std::string>()];
          for (const auto& e : f.second) {
            table[Lower(e.first.as<std::string>())] =
                e.second.as<std::string>();
          }
        }
      } else if (key == "scales") {
        for (const auto& f : v) {
          m.scales[f.first.as<std::string>()] = f.second.as<double>();
        }
      } else {
        return MappingError(
            name, absl::StrCat(key,
                               ": unknown key (expected one of: columns, "
                               "version, date_formats, currency, values, "
                               "scales)"));
      }
    }
  } catch (const YAML::Exception& e) {
    return MappingError(name, e.msg);
  }
  if (m.columns.empty()) return MappingError(name, "columns: none given");
  return m;
}

std::optional<ParsedAmount> ParseAmount(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  // The currency is whatever is not part of the number, before or after it.
  size_t first = text.find_first_of("0123456789");
  size_t last = text.find_last_of("0123456789");
  if (first == absl::string_view::npos) return std::nullopt;
  // ".50" and "€.50": the point belongs to the number.
  if (first > 0 && (text[first - 1] == '.' || text[first - 1] == ',')) {
    --first;
  }
  absl::string_view before = absl::StripAsciiWhitespace(text.substr(0, first));
  absl::string_view number = text.substr(first, last - first + 1);
  absl::string_view after = absl::StripAsciiWhitespace(text.substr(last + 1));
  if (absl::EndsWith(before, "-") || absl::StartsWith(before, "(")) {
    return std::nullopt;  // negative amounts are not deals
  }
  if (!before.empty() && !after.empty()) return std::nullopt;
  std::optional<double> value = ParseNumber(number);
  if (!value.has_value()) return std::nullopt;
  ParsedAmount out;
  const absl::string_view symbol = before.empty() ? after : before;
  if (!symbol.empty()) {
    std::optional<std::string> code = NormalizeCurrency(symbol);
    if (code.has_value()) {
      out.money.set_currency_code(*code);
      out.has_currency = true;
    } else if (!IsAmbiguousCurrency(symbol)) {
      return std::nullopt;  // "12 parrots"
    }
    // "$1,200" names no one currency: the number stands, the currency
    // comes from the currency column or the mapping's default.
  }
  double units = std::floor(*value);
  int64_t nanos = std::llround((*value - units) * 1e9);
  if (nanos >= 1000000000) {  // 1999.9999999999 is 2000, not 1999
    units += 1;
    nanos -= 1000000000;
  }
  if (units > 9e18) return std::nullopt;
  out.money.set_units(static_cast<int64_t>(units));
  out.money.set_nanos(static_cast<int32_t>(nanos));
  return out;
}

std::optional<absl::Time> ParseDate(absl::string_view text,
                                    const std::vector<std::string>& formats) {
  const std::string s(absl::StripAsciiWhitespace(text));
  absl::Time t;
  std::string err;
  for (const std::string& f : formats) {
    if (absl::ParseTime(f, s, absl::UTCTimeZone(), &t, &err)) return t;
  }
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return t;
  return std::nullopt;
}

namespace {

// The header's mapped columns (index -> field path) and its version column.
struct ColumnPlan {
  std::vector<std::pair<size_t, std::string>> used;
  int version_index = -1;
  bool has_id = false;
};

ColumnPlan PlanColumns(const std::vector<std::string>& header,
                       const ImportMapping& mapping) {
  ColumnPlan plan;
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string h = Lower(header[c]);
    if (!mapping.version_column.empty() && h == Lower(mapping.version_column)) {
      plan.version_index = static_cast<int>(c);
    }
    for (const auto& [column, path] : mapping.columns) {
      if (Lower(column) != h) continue;
      plan.used.emplace_back(c, path);
      plan.has_id |= path == "id";
    }
  }
  return plan;
}

// What a row's currency columns said, applied once all its cells are in.
struct RowMoney {
  std::string amount_currency, revenue_currency;
  bool amount_set = false, revenue_set = false;
};

// The mapping node below `node` where `path`'s leaf goes, created on the
// way.
YAML::Node ParentOf(YAML::Node node, const std::vector<std::string>& parts) {
  YAML::Node at = node;
  for (size_t k = 0; k + 1 < parts.size(); ++k) {
    if (!at[parts[k]].IsDefined() || !at[parts[k]].IsMap()) {
      at[parts[k]] = YAML::Node(YAML::NodeType::Map);
    }
    at.reset(at[parts[k]]);
  }
  return at;
}

// Puts one cell's value, converted for its field, into `node`; what could
// not be converted is returned (and the field left empty).
std::optional<std::string> SetCell(YAML::Node node, const std::string& path,
                                   std::string value,
                                   const ImportMapping& mapping,
                                   RowMoney& money) {
  if (auto table = mapping.values.find(path); table != mapping.values.end()) {
    if (auto it = table->second.find(Lower(value)); it != table->second.end()) {
      value = it->second;
    }
  }
  bool map_entry = false;
  const FieldDescriptor* f = OpportunityFieldAt(path, &map_entry);
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  YAML::Node at = ParentOf(node, parts);
  const std::string& leaf = parts.back();
  if (map_entry) {
    at[leaf] = value;
  } else if (IsMoney(f)) {
    std::optional<ParsedAmount> a = ParseAmount(value);
    if (!a.has_value()) return "is not an amount; left empty";
    YAML::Node m(YAML::NodeType::Map);
    m["units"] = a->money.units();
    m["nanos"] = a->money.nanos();
    if (a->has_currency) m["currency_code"] = a->money.currency_code();
    at[leaf] = m;
    (path == "amount" ? money.amount_set : money.revenue_set) = true;
  } else if (IsTimestamp(f)) {
    std::optional<absl::Time> t = ParseDate(value, mapping.date_formats);
    if (!t.has_value()) {
      return "is not a date in the mapping's formats; left empty";
    }
    at[leaf] = absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone());
  } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT64 ||
             f->cpp_type() == FieldDescriptor::CPPTYPE_INT32 ||
             f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
    std::optional<double> n = ParseNumber(absl::StripSuffix(value, "%"));
    if (!n.has_value()) return "is not a number; left empty";
    if (auto s = mapping.scales.find(path); s != mapping.scales.end()) {
      *n *= s->second;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
      at[leaf] = *n;
    } else {
      const double max = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32
                             ? 2147483647.0
                             : 9.2e18;
      if (std::fabs(*n) > max) return "is too large; left empty";
      at[leaf] = static_cast<int64_t>(std::llround(*n));
    }
  } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) {
    const std::string v = Lower(value);
    if (v == "true" || v == "yes" || v == "y" || v == "1" || v == "x") {
      at[leaf] = true;
    } else if (v == "false" || v == "no" || v == "n" || v == "0") {
      at[leaf] = false;
    } else {
      return "is not yes or no; left empty";
    }
  } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    const auto* e = FindEnumValueByLooseName(f->enum_type(), value);
    if (e == nullptr || e->number() == 0) {
      return absl::StrCat("is not a ", f->enum_type()->name(), "; left empty");
    }
    at[leaf] = e->name();
  } else if (path == "amount.currency_code") {
    money.amount_currency = value;
  } else if (path == "account.annual_revenue.currency_code") {
    money.revenue_currency = value;
  } else {
    at[leaf] = value;
  }
  return std::nullopt;
}

// A currency column, else the amount's own symbol, else the default.
void ApplyCurrencies(YAML::Node node, const RowMoney& money,
                     const ImportMapping& mapping) {
  auto set = [&](YAML::Node m, const std::string& column) {
    if (!column.empty()) {
      m["currency_code"] = column;
    } else if (!m["currency_code"].IsDefined() && !mapping.currency.empty()) {
      m["currency_code"] = mapping.currency;
    }
  };
  if (money.amount_set) set(node["amount"], money.amount_currency);
  if (money.revenue_set) {
    set(node["account"]["annual_revenue"], money.revenue_currency);
  }
}

// The upsert event of `o`, versioned by `version_time`.
v1::CrmEvent UpsertEvent(v1::Opportunity o, const std::string& tenant,
                         absl::Time version_time, const ImportMapping& m) {
  const int64_t version =
      std::max<int64_t>(1, absl::ToUnixMicros(version_time));
  o.set_tenant_id(tenant);
  o.set_version(version);
  v1::CrmEvent e;
  e.set_event_id(absl::StrCat("import:", m.name, ":", o.id(), ":", version));
  e.set_tenant_id(tenant);
  e.set_opportunity_id(o.id());
  e.set_type(v1::OPPORTUNITY_UPSERTED);
  e.set_version(version);
  *e.mutable_opportunity() = std::move(o);
  return e;
}

}  // namespace

absl::StatusOr<ImportResult> ImportCsv(absl::string_view csv,
                                       const ImportMapping& mapping,
                                       const std::string& tenant,
                                       absl::Time now, absl::string_view name) {
  auto rows = CsvRows(csv, name);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": no header row"));
  }
  const std::vector<std::string>& header = (*rows)[0].second;
  const ColumnPlan plan = PlanColumns(header, mapping);
  if (!plan.has_id) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ":1: no column is mapped to id (mapping ", mapping.name, ")"));
  }
  ImportResult out;
  for (size_t r = 1; r < rows->size(); ++r) {
    const auto& [line, fields] = (*rows)[r];
    ++out.rows;
    auto warn = [&, line = line](const std::string& column,
                                 const std::string& value,
                                 absl::string_view what) {
      out.warnings.push_back(
          {line, absl::StrCat(column, ": \"", value, "\" ", what)});
    };
    YAML::Node node(YAML::NodeType::Map);
    RowMoney money;
    for (const auto& [c, path] : plan.used) {
      if (c >= fields.size()) continue;
      std::string value(absl::StripAsciiWhitespace(fields[c]));
      if (value.empty()) continue;
      // An export saved in a legacy encoding (Excel's Windows-1252): the
      // event could not be sent with it, so it is messy too.
      if (!google::protobuf::internal::IsStructurallyValidUTF8(
              value.data(), static_cast<int>(value.size()))) {
        warn(header[c], absl::CHexEscape(value),
             "is not UTF-8 text (export the file as UTF-8); left empty");
        continue;
      }
      if (std::optional<std::string> problem =
              SetCell(node, path, value, mapping, money)) {
        warn(header[c], value, *problem);
      }
    }
    ApplyCurrencies(node, money, mapping);
    v1::Opportunity o;
    if (absl::Status s = YamlNodeToMessage(node, "", &o); !s.ok()) {
      out.rejected.push_back({line, std::string(s.message())});
      continue;
    }
    if (o.id().empty()) {
      out.rejected.push_back({line, "no id"});
      continue;
    }
    absl::Time version_time = now;
    const int v = plan.version_index;
    if (v >= 0 && v < static_cast<int>(fields.size()) && !fields[v].empty()) {
      if (std::optional<absl::Time> t =
              ParseDate(fields[v], mapping.date_formats)) {
        version_time = *t;
      } else {
        warn(header[v], fields[v],
             "is not a date in the mapping's formats; the import time is "
             "the version");
      }
    }
    out.events.push_back(
        UpsertEvent(std::move(o), tenant, version_time, mapping));
    out.lines.push_back(line);
  }
  return out;
}

}  // namespace oppmatrix
