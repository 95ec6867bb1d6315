#include "services/common/fast_json.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "simdjson.h"

namespace oppmatrix {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Deeper nesting than any message here has: declined.
constexpr int kMaxDepth = 32;

bool FillMessage(element value, Message* message, int depth);

// A decimal integer as protobuf writes int64 values into JSON: an optional
// '-' and digits without leading zeros ("-0" declined).
bool ParseDecimalInt64(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  size_t start = text[0] == '-' ? 1 : 0;
  if (start == text.size()) return false;
  if (text[start] == '0' && (text.size() > start + 1 || start == 1)) {
    return false;
  }
  for (size_t i = start; i < text.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return absl::SimpleAtoi(absl::string_view(text.data(), text.size()), out);
}

// A JSON integer of the range [lo, hi].
bool IntegerIn(element value, int64_t lo, int64_t hi, int64_t* out) {
  if (value.type() != element_type::INT64) return false;
  const int64_t v = value.get_int64().value_unsafe();
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

// A FieldMask's JSON form ("amount.units,relationship.contactsEngaged") as
// paths, for the plain lowerCamelCase that every converter agrees on: each
// upper-case letter follows a lower-case one and is not followed by
// another.
bool ParseFieldMask(std::string_view text, google::protobuf::FieldMask* mask) {
  if (text.empty()) return false;
  std::string path;
  auto flush = [&]() {
    if (path.empty() || path.front() == '.' || path.back() == '.' ||
        path.find("..") != std::string::npos) {
      return false;
    }
    mask->add_paths(path);
    path.clear();
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ',') {
      if (!flush()) return false;
    } else if (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.') {
      if (absl::ascii_isdigit(c) && (path.empty() || path.back() == '.')) {
        return false;
      }
      path.push_back(static_cast<char>(c));
    } else if (absl::ascii_isupper(c)) {
      const bool after_lower =
          !path.empty() &&
          absl::ascii_islower(static_cast<unsigned char>(path.back()));
      const bool before_upper =
          i + 1 < text.size() &&
          absl::ascii_isupper(static_cast<unsigned char>(text[i + 1]));
      if (!after_lower || before_upper) return false;
      path.push_back('_');
      path.push_back(absl::ascii_tolower(c));
    } else {
      return false;
    }
  }
  return flush();
}

// One value of a singular or repeated field; `repeated` says which.
bool SetValue(element value, Message* message, const FieldDescriptor* field,
              bool repeated, int depth) {
  const Reflection* r = message->GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (field->type() == FieldDescriptor::TYPE_BYTES) return false;
      if (value.type() != element_type::STRING) return false;
      std::string_view s = value.get_string().value_unsafe();
      if (repeated) {
        r->AddString(message, field, std::string(s));
      } else {
        r->SetString(message, field, std::string(s));
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      if (value.type() != element_type::BOOL) return false;
      const bool b = value.get_bool().value_unsafe();
      repeated ? r->AddBool(message, field, b) : r->SetBool(message, field, b);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int64_t v = 0;
      if (!IntegerIn(value, std::numeric_limits<int32_t>::min(),
                     std::numeric_limits<int32_t>::max(), &v)) {
        return false;
      }
      const int32_t i = static_cast<int32_t>(v);
      repeated ? r->AddInt32(message, field, i)
               : r->SetInt32(message, field, i);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      int64_t v = 0;
      if (!IntegerIn(value, 0, std::numeric_limits<uint32_t>::max(), &v)) {
        return false;
      }
      const uint32_t u = static_cast<uint32_t>(v);
      repeated ? r->AddUInt32(message, field, u)
               : r->SetUInt32(message, field, u);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (value.type() == element_type::STRING) {
        if (!ParseDecimalInt64(value.get_string().value_unsafe(), &v)) {
          return false;
        }
      } else if (!IntegerIn(value, std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(), &v)) {
        return false;
      }
      repeated ? r->AddInt64(message, field, v)
               : r->SetInt64(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double d = 0;
      if (value.type() == element_type::DOUBLE) {
        d = value.get_double().value_unsafe();
      } else if (value.type() == element_type::INT64) {
        const int64_t v = value.get_int64().value_unsafe();
        // "-0" would be -0.0 to protobuf, 0 to simdjson's integer.
        if (v == 0) return false;
        d = static_cast<double>(v);
      } else {
        return false;
      }
      repeated ? r->AddDouble(message, field, d)
               : r->SetDouble(message, field, d);
      return true;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (value.type() != element_type::STRING) return false;
      std::string_view name = value.get_string().value_unsafe();
      const google::protobuf::EnumValueDescriptor* e =
          field->enum_type()->FindValueByName(std::string(name));
      if (e == nullptr) return false;
      repeated ? r->AddEnumValue(message, field, e->number())
               : r->SetEnumValue(message, field, e->number());
      return true;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* child = repeated ? r->AddMessage(message, field)
                                : r->MutableMessage(message, field);
      const std::string& type = field->message_type()->full_name();
      if (type == "google.protobuf.Timestamp") {
        if (value.type() != element_type::STRING) return false;
        std::string_view s = value.get_string().value_unsafe();
        google::protobuf::Timestamp t;
        if (!google::protobuf::util::TimeUtil::FromString(std::string(s), &t)) {
          return false;
        }
        child->CopyFrom(t);
        return true;
      }
      if (type == "google.protobuf.FieldMask") {
        if (value.type() != element_type::STRING) return false;
        google::protobuf::FieldMask mask;
        if (!ParseFieldMask(value.get_string().value_unsafe(), &mask)) {
          return false;
        }
        child->CopyFrom(mask);
        return true;
      }
      // Other well-known types (Any, Struct, Duration, wrappers) have
      // JSON forms of their own.
      if (field->message_type()->file()->package() == "google.protobuf") {
        return false;
      }
      return FillMessage(value, child, depth + 1);
    }
    default:  // float, uint64: none in the contract
      return false;
  }
}

bool FillMap(element value, Message* message, const FieldDescriptor* field) {
  if (value.type() != element_type::OBJECT) return false;
  const Descriptor* entry = field->message_type();
  const FieldDescriptor* key = entry->map_key();
  const FieldDescriptor* val = entry->map_value();
  if (key->cpp_type() != FieldDescriptor::CPPTYPE_STRING ||
      val->cpp_type() != FieldDescriptor::CPPTYPE_STRING ||
      val->type() == FieldDescriptor::TYPE_BYTES) {
    return false;
  }
  absl::flat_hash_set<std::string_view> seen;
  const Reflection* r = message->GetReflection();
  simdjson::dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return false;
  for (auto [k, v] : object) {
    if (!seen.insert(k).second) return false;
    if (v.type() != element_type::STRING) return false;
    Message* e = r->AddMessage(message, field);
    const Reflection* er = e->GetReflection();
    er->SetString(e, key, std::string(k));
    er->SetString(e, val, std::string(v.get_string().value_unsafe()));
  }
  return true;
}

// The field whose JSON name (lowerCamelCase) or proto name is `key`.
// Messages here have a few dozen fields: a scan beats a lookup table.
const FieldDescriptor* FieldNamed(const Descriptor* d, std::string_view key) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->json_name() == key || f->name() == key) return f;
  }
  return nullptr;
}

bool FillMessage(element value, Message* message, int depth) {
  if (depth > kMaxDepth || value.type() != element_type::OBJECT) return false;
  const Descriptor* d = message->GetDescriptor();
  const Reflection* r = message->GetReflection();
  std::vector<bool> seen(d->field_count());
  simdjson::dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return false;
  for (auto [key, v] : object) {
    const FieldDescriptor* field = FieldNamed(d, key);
    if (field == nullptr) return false;      // unknown: protobuf says so
    if (seen[field->index()]) return false;  // a duplicate
    seen[field->index()] = true;
    if (v.type() == element_type::NULL_VALUE) return false;
    if (field->real_containing_oneof() != nullptr &&
        r->HasOneof(*message, field->real_containing_oneof())) {
      return false;
    }
    if (field->is_map()) {
      if (!FillMap(v, message, field)) return false;
    } else if (field->is_repeated()) {
      simdjson::dom::array array;
      if (v.get_array().get(array) != simdjson::SUCCESS) return false;
      for (element item : array) {
        if (item.type() == element_type::NULL_VALUE) return false;
        if (!SetValue(item, message, field, true, depth)) return false;
      }
    } else if (!SetValue(v, message, field, false, depth)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool FastJsonToMessage(absl::string_view json, Message* message) {
  // One parser per thread, reused: its buffers grow to the largest input.
  thread_local simdjson::dom::parser parser;
  element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return false;
  }
  return FillMessage(root, message, 0);
}

}  // namespace oppmatrix
