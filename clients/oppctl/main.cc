// oppctl: the oppmatrix command-line tool.
//
// Exit codes: 0 success; 1 the server or the ruleset said no (e.g.
// INVALID_ARGUMENT, an invalid ruleset); 2 usage or input error; 3 the
// server could not be reached (UNAVAILABLE, DEADLINE_EXCEEDED).
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clients/cpp/classification_client.h"
#include "clients/oppctl/format.h"
#include "clients/oppctl/opportunity_input.h"
#include "services/common/env_flags.h"
#include "services/common/status_util.h"
#include "services/engine/ruleset.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "The classifier's gRPC address");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline per call");
ABSL_FLAG(bool, json, false, "Print JSON (proto field names) for scripts");
ABSL_FLAG(bool, no_reasons, false, "Ask for results without reasons");
ABSL_FLAG(std::string, format, "auto",
          "Input format of classify: auto, json or yaml");

namespace oppmatrix {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRejected = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

constexpr char kUsage[] =
    R"(oppctl: the oppmatrix command-line tool.

Usage:
  oppctl [flags] classify [FILE|-]   classify one opportunity (JSON or YAML;
                                      stdin when FILE is - or absent)
  oppctl [flags] classify FILE...    classify several in one batch and show
                                      the matrix they make
  oppctl [flags] rules check FILE    validate a ruleset file

Flags: --target, --timeout, --json, --no_reasons, --format (see --helpfull).
Every flag can be set as OPPMATRIX_<FLAG>, e.g. OPPMATRIX_TARGET.
Exit codes: 0 ok, 1 rejected, 2 usage or input error, 3 server unreachable.)";

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    default:
      return kExitRejected;
  }
}

int Classify(const std::vector<std::string>& args) {
  std::vector<std::string> paths = args;
  if (paths.empty()) paths.push_back("-");
  std::vector<v1::Opportunity> opportunities;
  for (const std::string& path : paths) {
    absl::StatusOr<std::string> text = ReadInput(path);
    if (!text.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(text.status().message()).c_str());
      return kExitUsage;
    }
    absl::StatusOr<v1::Opportunity> opportunity = ParseOpportunity(
        *text, absl::GetFlag(FLAGS_format), path == "-" ? "<stdin>" : path);
    if (!opportunity.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(opportunity.status().message()).c_str());
      return kExitUsage;
    }
    opportunities.push_back(*std::move(opportunity));
  }
  ClientOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client =
      ClassificationClient::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s", FormatError(client.status()).c_str());
    return kExitUsage;
  }
  const bool with_reasons = !absl::GetFlag(FLAGS_no_reasons);
  const bool json = absl::GetFlag(FLAGS_json);
  if (opportunities.size() == 1) {
    absl::StatusOr<v1::Classification> result =
        (*client)->Classify(opportunities[0], with_reasons);
    if (!result.ok()) {
      std::fprintf(stderr, "%s", FormatError(result.status()).c_str());
      return ExitCodeFor(result.status());
    }
    std::cout << (json ? FormatJson(*result) + "\n"
                       : FormatClassificationTable(*result));
    return kExitOk;
  }
  // Several files: one BatchClassify call, then the matrix they make.
  absl::StatusOr<std::vector<v1::ClassifyResult>> results =
      (*client)->BatchClassify(opportunities, with_reasons);
  if (!results.ok()) {
    std::fprintf(stderr, "%s", FormatError(results.status()).c_str());
    return ExitCodeFor(results.status());
  }
  int exit_code = kExitOk;
  std::vector<v1::Classification> classified;
  for (size_t i = 0; i < results->size(); ++i) {
    const v1::ClassifyResult& r = (*results)[i];
    if (r.status().code() != 0) {
      std::fprintf(stderr, "%s: %s", paths[i].c_str(),
                   FormatError(FromRpcStatus(r.status())).c_str());
      exit_code = kExitRejected;
      continue;
    }
    if (json) {
      std::cout << FormatJson(r.classification()) << "\n";
    } else {
      std::cout << "# " << paths[i] << "\n"
                << FormatClassificationTable(r.classification()) << "\n";
    }
    classified.push_back(r.classification());
  }
  if (!json) std::cout << FormatMatrixSummary(classified);
  return exit_code;
}

int Rules(const std::vector<std::string>& args) {
  if (args.size() != 2 || args[0] != "check") {
    std::fprintf(stderr, "usage: oppctl rules check FILE\n");
    return kExitUsage;
  }
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(args[1]);
  if (!rules.ok()) {
    std::fprintf(stderr, "%s\n", std::string(rules.status().message()).c_str());
    return rules.status().code() == absl::StatusCode::kInvalidArgument
               ? kExitRejected
               : kExitUsage;
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << absl::StrCat(R"({"file":")", args[1], R"(","valid":true,)",
                              R"("version":")", (*rules)->version, "\"}\n");
  } else {
    std::cout << args[1] << ": OK, version " << (*rules)->version << "\n";
  }
  return kExitOk;
}

}  // namespace
}  // namespace oppmatrix

int main(int argc, char** argv) {
  std::vector<char*> positional = oppmatrix::ParseFlagsWithEnv(
      argc, argv, {"target", "timeout", "json", "no_reasons", "format"},
      oppmatrix::kUsage);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (args.empty() || args[0] == "help") {
    std::fprintf(args.empty() ? stderr : stdout, "%s\n", oppmatrix::kUsage);
    return args.empty() ? oppmatrix::kExitUsage : oppmatrix::kExitOk;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "classify") return oppmatrix::Classify(args);
  if (command == "rules") return oppmatrix::Rules(args);
  std::fprintf(stderr, "unknown command \"%s\"\n\n%s\n", command.c_str(),
               oppmatrix::kUsage);
  return oppmatrix::kExitUsage;
}
