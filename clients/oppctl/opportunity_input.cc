#include "clients/oppctl/opportunity_input.h"

#include <iostream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/file_util.h"
#include "services/common/yaml_proto.h"

namespace oppmatrix {

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
    return text;
  }
  return ReadFileToString(path);
}

absl::StatusOr<v1::Opportunity> ParseOpportunity(absl::string_view text,
                                                 absl::string_view format,
                                                 absl::string_view name) {
  std::string kind(format);
  if (kind == "auto") {
    if (absl::EndsWith(name, ".json")) {
      kind = "json";
    } else if (absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml")) {
      kind = "yaml";
    } else {
      absl::string_view stripped = absl::StripLeadingAsciiWhitespace(text);
      kind = absl::StartsWith(stripped, "{") ? "json" : "yaml";
    }
  }
  v1::Opportunity opportunity;
  if (kind == "json") {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(
        std::string(text), &opportunity, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": ", status.message().ToString()));
    }
    return opportunity;
  }
  if (kind == "yaml") {
    absl::Status status = ParseYamlToMessage(text, &opportunity);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": ", status.message()));
    }
    return opportunity;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--format: expected auto, json or yaml, got \"", format, "\""));
}

absl::StatusOr<std::vector<std::pair<int, std::vector<std::string>>>> CsvRows(
    absl::string_view text, absl::string_view name) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);  // BOM
  std::vector<std::pair<int, std::vector<std::string>>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, row_line = 1;
  auto end_row = [&] {
    row.push_back(std::move(field));
    field.clear();
    field_started = false;
    if (!(row.size() == 1 && row[0].empty())) {  // skip blank lines
      rows.emplace_back(row_line, std::move(row));
    }
    row.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;
    } else if (c == '\n') {
      end_row();
      row_line = ++line;
    } else if (c == '"') {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", line, ": a quote inside an unquoted field"));
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", row_line, ": a quoted field is not closed"));
  }
  if (field_started || !row.empty() || !field.empty()) end_row();
  return rows;
}

namespace {

// "60000 EUR", "1234.5 USD" -> a Money mapping; false if not that shape.
bool MoneyNode(absl::string_view value, YAML::Node* out) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(value, ' ', absl::SkipEmpty());
  if (parts.size() != 2) return false;
  absl::string_view number = parts[0];
  bool negative = absl::ConsumePrefix(&number, "-");
  std::vector<absl::string_view> whole_frac = absl::StrSplit(number, '.');
  // Digits only after the one "-": SimpleAtoi would take a second sign
  // ("--9223372036854775808", whose negation overflows).
  auto digits = [](absl::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == s.npos;
  };
  int64_t units = 0;
  if (whole_frac.size() > 2 || !digits(whole_frac[0]) ||
      !absl::SimpleAtoi(whole_frac[0], &units)) {
    return false;
  }
  int64_t nanos = 0;
  if (whole_frac.size() == 2) {
    std::string frac(whole_frac[1]);
    if (!digits(frac) || frac.size() > 9) return false;
    frac.resize(9, '0');
    if (!absl::SimpleAtoi(frac, &nanos)) return false;
  }
  (*out)["currency_code"] = std::string(parts[1]);
  (*out)["units"] = negative ? -units : units;
  (*out)["nanos"] = negative ? -nanos : nanos;
  return true;
}

}  // namespace

const google::protobuf::FieldDescriptor* OpportunityFieldAt(
    absl::string_view path, bool* map_entry) {
  *map_entry = false;
  const google::protobuf::Descriptor* d = v1::Opportunity::descriptor();
  const google::protobuf::FieldDescriptor* f = nullptr;
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (d == nullptr) return nullptr;
    f = d->FindFieldByName(parts[i]);
    if (f == nullptr) return nullptr;
    if (f->is_map()) {
      *map_entry = i + 2 == parts.size() && !parts[i + 1].empty();
      return *map_entry ? f : nullptr;
    }
    d = f->message_type();
  }
  return f;
}

absl::StatusOr<std::vector<v1::Opportunity>> ParseOpportunitiesJsonl(
    absl::string_view text, absl::string_view name) {
  std::vector<v1::Opportunity> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<v1::Opportunity> o =
        ParseOpportunity(line, "json", absl::StrCat(name, ":", line_no));
    if (!o.ok()) return o.status();
    out.push_back(*std::move(o));
  }
  return out;
}

absl::StatusOr<std::vector<v1::Opportunity>> ParseOpportunitiesCsv(
    absl::string_view text, absl::string_view name) {
  auto rows = CsvRows(text, name);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": no header row"));
  }
  const std::vector<std::string> header = (*rows)[0].second;
  for (size_t c = 0; c < header.size(); ++c) {
    if (absl::StripAsciiWhitespace(header[c]).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":1: column ", c + 1, " has no name"));
    }
  }
  std::vector<v1::Opportunity> out;
  for (size_t r = 1; r < rows->size(); ++r) {
    const auto& [line, fields] = (*rows)[r];
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", line, ": ", fields.size(),
                       " fields, the header has ", header.size()));
    }
    YAML::Node node(YAML::NodeType::Map);
    for (size_t c = 0; c < header.size(); ++c) {
      std::string path(absl::StripAsciiWhitespace(header[c]));
      if (fields[c].empty()) continue;
      std::vector<std::string> parts = absl::StrSplit(path, '.');
      // yaml-cpp nodes are handles: walk down, creating mappings.
      YAML::Node at = node;
      bool conflict = false;
      for (size_t k = 0; k + 1 < parts.size() && !conflict; ++k) {
        YAML::Node next = at[parts[k]];
        if (!next.IsDefined() || next.IsNull()) {
          at[parts[k]] = YAML::Node(YAML::NodeType::Map);
        } else if (!next.IsMap()) {
          conflict = true;  // e.g. `amount` and `amount.units` both set
          break;
        }
        at.reset(at[parts[k]]);
      }
      if (!conflict && at[parts.back()].IsDefined() &&
          at[parts.back()].IsMap()) {
        conflict = true;  // `account.industry` set, then `account`
      }
      if (conflict) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, ":", line, ": column \"", path,
            "\" conflicts with another column setting the same field"));
      }
      bool map_entry = false;
      const google::protobuf::FieldDescriptor* f =
          OpportunityFieldAt(path, &map_entry);
      YAML::Node money(YAML::NodeType::Map);
      if (f != nullptr && f->message_type() != nullptr &&
          f->message_type()->full_name() == "google.type.Money" &&
          MoneyNode(fields[c], &money)) {
        at[parts.back()] = money;
      } else {
        at[parts.back()] = fields[c];
      }
    }
    v1::Opportunity o;
    absl::Status s = YamlNodeToMessage(node, "", &o);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", line, ": ", s.message()));
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace oppmatrix
