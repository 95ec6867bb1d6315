// Enum value names without their type prefix, the way rulesets, YAML input
// and oppctl write them: CUSTOMER_TYPE_SME <-> "SME".
//
//   ShortEnumName(v1::CustomerType_descriptor()->FindValueByNumber(3));  //
//   "SME"
#ifndef OPPMATRIX_SERVICES_COMMON_ENUM_NAMES_H_
#define OPPMATRIX_SERVICES_COMMON_ENUM_NAMES_H_

#include <string>

#include "google/protobuf/descriptor.h"

namespace oppmatrix {

// The prefix of an enum's value names: CustomerType -> "CUSTOMER_TYPE_".
std::string EnumValuePrefix(const google::protobuf::EnumDescriptor* type);

// The value name without the prefix; "" for null.
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value);

// Finds a value by its full or short name in any case ("sme", "SME",
// "customer_type_sme"); null when there is none.
const google::protobuf::EnumValueDescriptor* FindEnumValueByLooseName(
    const google::protobuf::EnumDescriptor* type, const std::string& name);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_ENUM_NAMES_H_
