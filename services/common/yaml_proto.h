// Maps a YAML document onto a protobuf message field by field, using the
// message's descriptor: keys are field names (snake_case or lowerCamelCase),
// sequences fill repeated fields, mappings fill maps and sub-messages.
// Errors name the path of the offending key, e.g.
// `potential.factors[3].weight: expected a number, got "heavy"`.
//
//   Ruleset rules;
//   OPPMATRIX_RETURN_IF_ERROR(ParseYamlToMessage(text, &rules));
//
// Conventions beyond the plain mapping:
// - enum values by full name ("CUSTOMER_TYPE_SME") or without the enum's
//   prefix ("SME"), in any case;
// - google.protobuf.Timestamp as an RFC 3339 string, Duration as "1.5s";
// - YAML's .nan / .inf for doubles (validation then rejects them with a
//   clear message where they are not allowed);
// - a null value (`key:` or `~`) leaves the field unset.
#ifndef OPPMATRIX_SERVICES_COMMON_YAML_PROTO_H_
#define OPPMATRIX_SERVICES_COMMON_YAML_PROTO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "yaml-cpp/yaml.h"

namespace oppmatrix {

// Parses `text` as YAML and fills `message` (which is cleared first).
// INVALID_ARGUMENT with "line:col: ..." for YAML syntax errors, or with the
// key path for mapping errors.
absl::Status ParseYamlToMessage(absl::string_view text,
                                google::protobuf::Message* message);

// Fills `message` from an already parsed node; `path` prefixes error paths.
absl::Status YamlNodeToMessage(const YAML::Node& node, absl::string_view path,
                               google::protobuf::Message* message);

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_YAML_PROTO_H_
