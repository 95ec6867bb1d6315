#include "services/common/yaml_proto.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/enum_names.h"
#include "services/common/status_macros.h"

namespace oppmatrix {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status PathError(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(path.empty() ? "<document>" : path, ": ", what));
}

std::string Join(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

absl::string_view KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "nothing";
  }
}

absl::StatusOr<const EnumValueDescriptor*> ParseEnum(const EnumDescriptor* type,
                                                     absl::string_view text,
                                                     absl::string_view path) {
  if (const EnumValueDescriptor* v =
          FindEnumValueByLooseName(type, std::string(text))) {
    return v;
  }
  std::string prefix = EnumValuePrefix(type);
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    absl::string_view name = type->value(i)->name();
    if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
    if (absl::EndsWith(name, "UNSPECIFIED")) continue;
    names.emplace_back(name);
  }
  return PathError(
      path, absl::StrCat("unknown value ", Quote(text), " (expected one of: ",
                         absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<double> ParseDouble(absl::string_view text,
                                   absl::string_view path) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == ".nan") return std::numeric_limits<double>::quiet_NaN();
  if (lower == ".inf" || lower == "+.inf") {
    return std::numeric_limits<double>::infinity();
  }
  if (lower == "-.inf") return -std::numeric_limits<double>::infinity();
  double value = 0;
  if (!absl::SimpleAtod(text, &value)) {
    return PathError(path,
                     absl::StrCat("expected a number, got ", Quote(text)));
  }
  return value;
}

absl::StatusOr<bool> ParseBool(absl::string_view text, absl::string_view path) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return PathError(path,
                   absl::StrCat("expected true or false, got ", Quote(text)));
}

template <typename T>
absl::StatusOr<T> ParseInt(absl::string_view text, absl::string_view path) {
  T value{};
  if (!absl::SimpleAtoi(text, &value)) {
    return PathError(
        path,
        absl::StrCat("expected a whole number in range, got ", Quote(text)));
  }
  return value;
}

absl::Status FillWellKnown(const YAML::Node& node, absl::string_view path,
                           Message* message, bool* handled) {
  const std::string& full_name = message->GetDescriptor()->full_name();
  *handled = false;
  if (full_name != "google.protobuf.Timestamp" &&
      full_name != "google.protobuf.Duration") {
    return absl::OkStatus();
  }
  *handled = true;
  if (!node.IsScalar()) {
    return PathError(path,
                     absl::StrCat("expected a string, got ", KindName(node)));
  }
  const std::string& text = node.Scalar();
  if (full_name == "google.protobuf.Timestamp") {
    google::protobuf::Timestamp ts;
    if (!google::protobuf::util::TimeUtil::FromString(text, &ts)) {
      return PathError(path, absl::StrCat("expected an RFC 3339 time such as "
                                          "\"2026-03-01T09:00:00Z\", got ",
                                          Quote(text)));
    }
    message->CopyFrom(ts);
  } else {
    google::protobuf::Duration d;
    if (!google::protobuf::util::TimeUtil::FromString(text, &d)) {
      return PathError(path, absl::StrCat("expected a duration such as "
                                          "\"1.5s\", got ",
                                          Quote(text)));
    }
    message->CopyFrom(d);
  }
  return absl::OkStatus();
}

absl::Status FillMessage(const YAML::Node& node, absl::string_view path,
                         Message* message);

// Sets (or adds, for repeated fields) one non-message value.
absl::Status SetScalar(const YAML::Node& node, absl::string_view path,
                       const FieldDescriptor* field, Message* message) {
  const Reflection* r = message->GetReflection();
  if (!node.IsScalar()) {
    return PathError(
        path, absl::StrCat("expected a single value, got ", KindName(node)));
  }
  const std::string& text = node.Scalar();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      // A proto3 string that is not UTF-8 can't be sent: every message
      // carrying it (a classification with the cell's label) would fail.
      if (field->type() == FieldDescriptor::TYPE_STRING &&
          !google::protobuf::internal::IsStructurallyValidUTF8(
              text.data(), static_cast<int>(text.size()))) {
        return PathError(path, "expected UTF-8 text");
      }
      rep ? r->AddString(message, field, text)
          : r->SetString(message, field, text);
      break;
    case FieldDescriptor::CPPTYPE_BOOL: {
      OPPMATRIX_ASSIGN_OR_RETURN(bool v, ParseBool(text, path));
      rep ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      OPPMATRIX_ASSIGN_OR_RETURN(double v, ParseDouble(text, path));
      rep ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      OPPMATRIX_ASSIGN_OR_RETURN(double v, ParseDouble(text, path));
      rep ? r->AddFloat(message, field, static_cast<float>(v))
          : r->SetFloat(message, field, static_cast<float>(v));
      break;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      OPPMATRIX_ASSIGN_OR_RETURN(int32_t v, ParseInt<int32_t>(text, path));
      rep ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      OPPMATRIX_ASSIGN_OR_RETURN(int64_t v, ParseInt<int64_t>(text, path));
      rep ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      OPPMATRIX_ASSIGN_OR_RETURN(uint32_t v, ParseInt<uint32_t>(text, path));
      rep ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      OPPMATRIX_ASSIGN_OR_RETURN(uint64_t v, ParseInt<uint64_t>(text, path));
      rep ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      OPPMATRIX_ASSIGN_OR_RETURN(const EnumValueDescriptor* v,
                                 ParseEnum(field->enum_type(), text, path));
      rep ? r->AddEnum(message, field, v) : r->SetEnum(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return absl::InternalError("SetScalar on a message field");
  }
  return absl::OkStatus();
}

absl::Status FillValue(const YAML::Node& node, absl::string_view path,
                       const FieldDescriptor* field, Message* message) {
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Reflection* r = message->GetReflection();
    Message* sub = field->is_repeated() ? r->AddMessage(message, field)
                                        : r->MutableMessage(message, field);
    return FillMessage(node, path, sub);
  }
  return SetScalar(node, path, field, message);
}

absl::Status FillMap(const YAML::Node& node, absl::string_view path,
                     const FieldDescriptor* field, Message* message) {
  if (!node.IsMap()) {
    return PathError(path,
                     absl::StrCat("expected a mapping, got ", KindName(node)));
  }
  const Descriptor* entry_type = field->message_type();
  const FieldDescriptor* key_field = entry_type->map_key();
  const FieldDescriptor* value_field = entry_type->map_value();
  absl::flat_hash_set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      return PathError(path, "map keys must be single values");
    }
    const std::string& key = kv.first.Scalar();
    std::string entry_path = Join(path, key);
    if (!seen.insert(key).second) return PathError(entry_path, "duplicate key");
    Message* entry = message->GetReflection()->AddMessage(message, field);
    OPPMATRIX_RETURN_IF_ERROR(
        SetScalar(kv.first, entry_path, key_field, entry));
    if (kv.second.IsNull()) {
      return PathError(entry_path, "missing value");
    }
    OPPMATRIX_RETURN_IF_ERROR(
        FillValue(kv.second, entry_path, value_field, entry));
  }
  return absl::OkStatus();
}

absl::Status FillField(const YAML::Node& node, absl::string_view path,
                       const FieldDescriptor* field, Message* message) {
  if (node.IsNull()) return absl::OkStatus();
  if (field->is_map()) return FillMap(node, path, field, message);
  if (field->is_repeated()) {
    if (!node.IsSequence()) {
      return PathError(path,
                       absl::StrCat("expected a list, got ", KindName(node)));
    }
    for (size_t i = 0; i < node.size(); ++i) {
      OPPMATRIX_RETURN_IF_ERROR(
          FillValue(node[i], absl::StrCat(path, "[", i, "]"), field, message));
    }
    return absl::OkStatus();
  }
  return FillValue(node, path, field, message);
}

absl::Status FillMessage(const YAML::Node& node, absl::string_view path,
                         Message* message) {
  bool handled = false;
  OPPMATRIX_RETURN_IF_ERROR(FillWellKnown(node, path, message, &handled));
  if (handled || node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return PathError(path,
                     absl::StrCat("expected a mapping, got ", KindName(node)));
  }
  const Descriptor* type = message->GetDescriptor();
  absl::flat_hash_set<const FieldDescriptor*> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      return PathError(path, "keys must be single values");
    }
    const std::string& key = kv.first.Scalar();
    const FieldDescriptor* field = type->FindFieldByName(key);
    if (field == nullptr) field = type->FindFieldByCamelcaseName(key);
    std::string field_path = Join(path, key);
    if (field != nullptr && !seen.insert(field).second) {
      return PathError(field_path, "duplicate key");
    }
    if (field == nullptr) {
      std::vector<std::string> names;
      for (int i = 0; i < type->field_count(); ++i) {
        names.push_back(type->field(i)->name());
      }
      return PathError(field_path,
                       absl::StrCat("unknown key (expected one of: ",
                                    absl::StrJoin(names, ", "), ")"));
    }
    OPPMATRIX_RETURN_IF_ERROR(FillField(kv.second, field_path, field, message));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status YamlNodeToMessage(const YAML::Node& node, absl::string_view path,
                               Message* message) {
  return FillMessage(node, path, message);
}

absl::Status ParseYamlToMessage(absl::string_view text, Message* message) {
  message->Clear();
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  try {
    return FillMessage(root, "", message);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("YAML: ", e.what()));
  }
}

}  // namespace oppmatrix
