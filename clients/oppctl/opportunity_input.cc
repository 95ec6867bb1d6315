#include "clients/oppctl/opportunity_input.h"

#include <iostream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

}  // namespace oppmatrix
