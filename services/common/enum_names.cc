#include "services/common/enum_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace oppmatrix {

std::string EnumValuePrefix(const google::protobuf::EnumDescriptor* type) {
  std::string out;
  for (char c : type->name()) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) {
      out.push_back('_');
    }
    out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  out.push_back('_');
  return out;
}

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value) {
  if (value == nullptr) return "";
  absl::string_view name = value->name();
  std::string prefix = EnumValuePrefix(value->type());
  if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
  return std::string(name);
}

const google::protobuf::EnumValueDescriptor* FindEnumValueByLooseName(
    const google::protobuf::EnumDescriptor* type, const std::string& name) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (const auto* v = type->FindValueByName(upper)) return v;
  return type->FindValueByName(EnumValuePrefix(type) + upper);
}

}  // namespace oppmatrix
