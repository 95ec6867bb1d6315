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
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cpp/classification_client.h"
#include "clients/oppctl/format.h"
#include "clients/oppctl/opportunity_input.h"
#include "clients/sim/opportunity_generator.h"
#include "google/protobuf/struct.pb.h"
#include "grpcpp/create_channel.h"
#include "oppmatrix/v1/ingestion_service.grpc.pb.h"
#include "services/common/enum_names.h"
#include "services/common/env_flags.h"
#include "services/common/grpc_status.h"
#include "services/common/status_util.h"
#include "services/engine/ruleset.h"
#include "services/ingestion/dead_letters.h"
#include "services/store/redis_url.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "The classifier's gRPC address");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline per call");
ABSL_FLAG(bool, json, false, "Print JSON (proto field names) for scripts");
ABSL_FLAG(bool, no_reasons, false, "Ask for results without reasons");
ABSL_FLAG(std::string, format, "auto",
          "Input format of classify: auto, json, yaml or jsonl (one JSON "
          "opportunity per line, classified in batches)");
ABSL_FLAG(int, batch_size, 500, "classify of JSONL: opportunities per batch");
ABSL_FLAG(std::string, tenant, "",
          "The tenant of get, matrix, list, transitions and generate");
ABSL_FLAG(int, top, 3, "matrix: top opportunities shown per cell (0-100)");
ABSL_FLAG(std::string, customer_type, "",
          "matrix: only this customer type, e.g. SME");
ABSL_FLAG(std::string, industry, "", "matrix: only this industry, e.g. RETAIL");
ABSL_FLAG(std::string, stage, "",
          "matrix: only this buying stage, e.g. DECISION");
ABSL_FLAG(std::string, cell, "", "list: the cell, e.g. KEY");
ABSL_FLAG(int, page_size, 0,
          "list, transitions: results per page (0: the server's 50)");
ABSL_FLAG(std::string, page_token, "",
          "list, transitions: continue from this next_page_token");
ABSL_FLAG(bool, all, false, "list, transitions: follow every page");
ABSL_FLAG(int, count, 100,
          "generate: how many opportunities; dlq list: how many entries");
ABSL_FLAG(uint64_t, seed, 1, "generate: the random seed");
ABSL_FLAG(std::string, ingestion, "127.0.0.1:50052",
          "status: the ingestion service's gRPC address");
ABSL_FLAG(std::string, redis, "redis://127.0.0.1:6379/0",
          "dlq: the Redis holding the streams");
ABSL_FLAG(std::string, stream, "oppmatrix:crm-events",
          "dlq replay: the event stream replayed events go to");
ABSL_FLAG(std::string, dead_letter_stream, "oppmatrix:crm-events:dead",
          "dlq: the dead-letter stream");

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
  oppctl [flags] classify --format=jsonl [FILE|-]
                                      classify one JSON opportunity per line,
                                      --batch_size at a time; prints a summary
  oppctl --tenant=T get ID            the stored classification of ID
  oppctl --tenant=T matrix            the stored matrix: count, amount and top
                                      --top per cell; filters --customer_type,
                                      --industry, --stage
  oppctl --tenant=T list --cell=KEY   a cell's opportunities by priority
                                      (--page_size, --page_token, --all)
  oppctl --tenant=T transitions       recent cell moves, newest first
  oppctl --tenant=T generate          --count generated opportunities as JSONL
                                      (--seed), for classify --format=jsonl
  oppctl [flags] status               the ingestion pipeline's figures
                                      (--ingestion)
  oppctl [flags] dlq list             dead-lettered events with their reason
                                      (--redis, --count, --page_token)
  oppctl [flags] dlq replay ID...|--all
                                      put dead-lettered events back on the
                                      event stream
  oppctl [flags] rules check FILE    validate a ruleset file

Flags: --target, --timeout, --json, --no_reasons, --format, --tenant, ...
(see --helpfull).
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

absl::StatusOr<std::unique_ptr<ClassificationClient>> NewClient() {
  ClientOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  return ClassificationClient::Create(options);
}

// Prints the error and returns its exit code.
int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s", FormatError(status).c_str());
  return ExitCodeFor(status);
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return kExitUsage;
}

bool NeedTenant() {
  if (!absl::GetFlag(FLAGS_tenant).empty()) return true;
  std::fprintf(stderr, "--tenant (or OPPMATRIX_TENANT) is required\n");
  return false;
}

// One JSON opportunity per line, classified in batches.
int ClassifyJsonl(const std::string& path) {
  absl::StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) return Usage(std::string(text.status().message()));
  const int batch_size = absl::GetFlag(FLAGS_batch_size);
  if (batch_size < 1) return Usage("--batch_size must be at least 1");
  std::vector<v1::Opportunity> all;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_no;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<v1::Opportunity> o = ParseOpportunity(
        line, "json",
        absl::StrCat(path == "-" ? "<stdin>" : path, ":", line_no));
    if (!o.ok()) return Usage(std::string(o.status().message()));
    all.push_back(*std::move(o));
  }
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return Fail(client.status());
  const bool json = absl::GetFlag(FLAGS_json);
  int64_t stored = 0, cached = 0, rejected = 0, batches = 0;
  absl::Time start = absl::Now();
  for (size_t i = 0; i < all.size(); i += batch_size) {
    std::vector<v1::Opportunity> batch(
        all.begin() + i, all.begin() + std::min(all.size(), i + batch_size));
    absl::StatusOr<std::vector<v1::ClassifyResult>> results =
        (*client)->BatchClassify(batch, !absl::GetFlag(FLAGS_no_reasons));
    if (!results.ok()) return Fail(results.status());
    ++batches;
    for (const v1::ClassifyResult& r : *results) {
      if (r.status().code() != 0) {
        ++rejected;
        std::fprintf(stderr, "%s: %s", r.opportunity_id().c_str(),
                     FormatError(FromRpcStatus(r.status())).c_str());
        continue;
      }
      stored += r.stored();
      cached += r.cached();
      if (json) std::cout << FormatJson(r) << "\n";
    }
  }
  std::fprintf(json ? stderr : stdout,
               "classified %zu opportunities in %lld batches of up to %d "
               "(%.2f s): %lld stored, %lld from the cache, %lld rejected\n",
               all.size() - rejected, static_cast<long long>(batches),
               batch_size, absl::ToDoubleSeconds(absl::Now() - start),
               static_cast<long long>(stored), static_cast<long long>(cached),
               static_cast<long long>(rejected));
  return rejected > 0 ? kExitRejected : kExitOk;
}

int Classify(const std::vector<std::string>& args) {
  std::vector<std::string> paths = args;
  if (paths.empty()) paths.push_back("-");
  if (absl::GetFlag(FLAGS_format) == "jsonl" ||
      (absl::GetFlag(FLAGS_format) == "auto" && paths.size() == 1 &&
       absl::EndsWith(paths[0], ".jsonl"))) {
    if (paths.size() != 1) return Usage("classify of JSONL takes one FILE");
    return ClassifyJsonl(paths[0]);
  }
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
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
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

int Get(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("usage: oppctl --tenant=T get ID");
  if (!NeedTenant()) return kExitUsage;
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return Fail(client.status());
  absl::StatusOr<v1::Classification> c =
      (*client)->GetClassification(absl::GetFlag(FLAGS_tenant), args[0]);
  if (!c.ok()) return Fail(c.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(*c) + "\n"
                                          : FormatClassificationTable(*c));
  return kExitOk;
}

// Sets `*out` to the enum value named `name` (any case, with or without
// the type prefix); false with a message when there is none.
template <typename Enum>
bool ParseEnumFlag(const google::protobuf::EnumDescriptor* type,
                   const std::string& flag, const std::string& name,
                   Enum* out) {
  if (name.empty()) return true;
  const google::protobuf::EnumValueDescriptor* v =
      FindEnumValueByLooseName(type, name);
  if (v == nullptr || v->number() == 0) {
    std::string known;
    for (int i = 1; i < type->value_count(); ++i) {
      absl::StrAppend(&known, i > 1 ? ", " : "", ShortEnumName(type->value(i)));
    }
    std::fprintf(stderr, "--%s: unknown value \"%s\"; one of %s\n",
                 flag.c_str(), name.c_str(), known.c_str());
    return false;
  }
  *out = static_cast<Enum>(v->number());
  return true;
}

int Matrix(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("usage: oppctl --tenant=T matrix");
  if (!NeedTenant()) return kExitUsage;
  v1::GetMatrixRequest request;
  request.set_tenant_id(absl::GetFlag(FLAGS_tenant));
  request.set_top_n(absl::GetFlag(FLAGS_top));
  v1::CustomerType type = v1::CUSTOMER_TYPE_UNSPECIFIED;
  v1::Industry industry = v1::INDUSTRY_UNSPECIFIED;
  v1::BuyingStage stage = v1::BUYING_STAGE_UNSPECIFIED;
  if (!ParseEnumFlag(v1::CustomerType_descriptor(), "customer_type",
                     absl::GetFlag(FLAGS_customer_type), &type) ||
      !ParseEnumFlag(v1::Industry_descriptor(), "industry",
                     absl::GetFlag(FLAGS_industry), &industry) ||
      !ParseEnumFlag(v1::BuyingStage_descriptor(), "stage",
                     absl::GetFlag(FLAGS_stage), &stage)) {
    return kExitUsage;
  }
  request.set_customer_type(type);
  request.set_industry(industry);
  request.set_buying_stage(stage);
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return Fail(client.status());
  absl::StatusOr<v1::GetMatrixResponse> m = (*client)->GetMatrix(request);
  if (!m.ok()) return Fail(m.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(*m) + "\n"
                                          : FormatStoredMatrix(*m));
  return kExitOk;
}

// Pages through `fetch` (one page per call with the token), printing each
// item; only the first page unless --all.
template <typename Response, typename Fetch, typename Print>
int Pages(Fetch fetch, Print print) {
  std::string token = absl::GetFlag(FLAGS_page_token);
  do {
    absl::StatusOr<Response> page = fetch(token);
    if (!page.ok()) return Fail(page.status());
    if (absl::GetFlag(FLAGS_json)) {
      std::cout << FormatJson(*page) << "\n";
    } else {
      print(*page);
    }
    token = page->next_page_token();
    if (!token.empty() && !absl::GetFlag(FLAGS_all) &&
        !absl::GetFlag(FLAGS_json)) {
      std::cout << "more: --page_token=" << token << "\n";
    }
  } while (!token.empty() && absl::GetFlag(FLAGS_all));
  return kExitOk;
}

int List(const std::vector<std::string>& args) {
  if (!args.empty() || absl::GetFlag(FLAGS_cell).empty()) {
    return Usage("usage: oppctl --tenant=T list --cell=KEY");
  }
  if (!NeedTenant()) return kExitUsage;
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return Fail(client.status());
  return Pages<v1::ListOpportunitiesResponse>(
      [&](const std::string& token) {
        v1::ListOpportunitiesRequest request;
        request.set_tenant_id(absl::GetFlag(FLAGS_tenant));
        request.set_cell(absl::GetFlag(FLAGS_cell));
        request.set_page_size(absl::GetFlag(FLAGS_page_size));
        request.set_page_token(token);
        return (*client)->ListOpportunities(request);
      },
      [](const v1::ListOpportunitiesResponse& page) {
        for (const v1::Classification& c : page.classifications()) {
          std::cout << FormatClassificationLine(c);
        }
      });
}

int Transitions(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("usage: oppctl --tenant=T transitions");
  if (!NeedTenant()) return kExitUsage;
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return Fail(client.status());
  return Pages<v1::ListTransitionsResponse>(
      [&](const std::string& token) {
        v1::ListTransitionsRequest request;
        request.set_tenant_id(absl::GetFlag(FLAGS_tenant));
        request.set_page_size(absl::GetFlag(FLAGS_page_size));
        request.set_page_token(token);
        return (*client)->ListTransitions(request);
      },
      [](const v1::ListTransitionsResponse& page) {
        for (const v1::Transition& t : page.transitions()) {
          std::cout << FormatTransitionLine(t);
        }
      });
}

int Generate(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("usage: oppctl --tenant=T generate");
  if (!NeedTenant()) return kExitUsage;
  if (absl::GetFlag(FLAGS_count) < 0) return Usage("--count must be >= 0");
  OpportunityGenerator gen({.tenant_id = absl::GetFlag(FLAGS_tenant),
                            .seed = absl::GetFlag(FLAGS_seed)},
                           absl::Now());
  for (int i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
    std::cout << FormatJson(gen.Next()) << "\n";
  }
  return kExitOk;
}

int Status(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("usage: oppctl status");
  auto stub = v1::IngestionService::NewStub(grpc::CreateChannel(
      absl::GetFlag(FLAGS_ingestion), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout)));
  v1::GetStatusResponse s;
  grpc::Status status = stub->GetStatus(&context, {}, &s);
  if (!status.ok()) return Fail(FromGrpcStatus(status));
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << FormatJson(s) << "\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat(
      "stream          %s (group %s, %d consumers; this is %s)\n"
      "lag             %d events not yet delivered\n"
      "pending         %d delivered, not yet acknowledged\n"
      "processed       %d (%d duplicates or stale) in %d batches\n"
      "dead-lettered   %d\n"
      "errors          classifier %d, redis %d\n"
      "pushed          %d\n",
      s.stream(), s.group(), s.consumers(), s.consumer(), s.lag(), s.pending(),
      s.processed(), s.stale(), s.batches(), s.dead_lettered(),
      s.classifier_errors(), s.store_errors(), s.pushed());
  if (!s.last_error().empty()) {
    std::cout << "last error      "
              << absl::FormatTime(
                     "%Y-%m-%dT%H:%M:%SZ ",
                     absl::FromUnixSeconds(s.last_error_time().seconds()),
                     absl::UTCTimeZone())
              << s.last_error() << "\n";
  }
  return kExitOk;
}

int Dlq(const std::vector<std::string>& args) {
  if (args.empty() || (args[0] != "list" && args[0] != "replay")) {
    return Usage("usage: oppctl dlq list | oppctl dlq replay ID...|--all");
  }
  absl::StatusOr<RedisEndpoint> endpoint =
      ParseRedisUrl(absl::GetFlag(FLAGS_redis));
  if (!endpoint.ok()) {
    return Usage(absl::StrCat("--redis: ", endpoint.status().message()));
  }
  RedisPool pool(
      {.endpoint = *endpoint, .command_timeout = absl::GetFlag(FLAGS_timeout)});
  DeadLetterQueue dlq(
      &pool, {.dead_letter_stream = absl::GetFlag(FLAGS_dead_letter_stream),
              .stream = absl::GetFlag(FLAGS_stream),
              .timeout = absl::GetFlag(FLAGS_timeout)});
  const int count = absl::GetFlag(FLAGS_count);
  if (args[0] == "list") {
    if (args.size() != 1) return Usage("usage: oppctl dlq list");
    auto entries = dlq.List(count, absl::GetFlag(FLAGS_page_token));
    if (!entries.ok()) return Fail(entries.status());
    for (const DeadLetterEntry& e : *entries) {
      if (absl::GetFlag(FLAGS_json)) {
        google::protobuf::Struct row;
        auto& f = *row.mutable_fields();
        f["id"].set_string_value(e.id);
        f["reason"].set_string_value(e.reason);
        f["deliveries"].set_number_value(static_cast<double>(e.deliveries));
        f["source_id"].set_string_value(e.source_id);
        f["event"].set_string_value(e.event);
        std::cout << FormatJson(row) << "\n";
        continue;
      }
      std::string event = e.event.size() > 160
                              ? absl::StrCat(e.event.substr(0, 157), "...")
                              : e.event;
      std::cout << e.id << "  "
                << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", e.time,
                                    absl::UTCTimeZone())
                << "  deliveries " << e.deliveries << "\n  reason: " << e.reason
                << "\n  event:  " << (event.empty() ? "(none)" : event) << "\n";
    }
    if (static_cast<int>(entries->size()) == count && !entries->empty()) {
      std::cerr << "more: --page_token=" << entries->back().id << "\n";
    }
    return kExitOk;
  }
  std::vector<std::string> ids(args.begin() + 1, args.end());
  if (absl::GetFlag(FLAGS_all)) {
    if (!ids.empty()) return Usage("dlq replay: IDs or --all, not both");
    std::string after;
    while (true) {
      auto page = dlq.List(500, after);
      if (!page.ok()) return Fail(page.status());
      if (page->empty()) break;
      for (const DeadLetterEntry& e : *page) ids.push_back(e.id);
      after = page->back().id;
    }
  }
  if (ids.empty()) return Usage("usage: oppctl dlq replay ID...|--all");
  absl::StatusOr<int> replayed = dlq.Replay(ids);
  if (!replayed.ok()) return Fail(replayed.status());
  std::cout << "replayed " << *replayed << " of " << ids.size()
            << " dead-lettered events onto " << absl::GetFlag(FLAGS_stream)
            << "\n";
  return kExitOk;
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
      argc, argv, {"target",     "timeout",    "json",
                   "no_reasons", "format",     "batch_size",
                   "tenant",     "top",        "customer_type",
                   "industry",   "stage",      "cell",
                   "page_size",  "page_token", "all",
                   "count",      "seed",       "ingestion",
                   "redis",      "stream",     "dead_letter_stream"},
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
  if (command == "get") return oppmatrix::Get(args);
  if (command == "matrix") return oppmatrix::Matrix(args);
  if (command == "list") return oppmatrix::List(args);
  if (command == "transitions") return oppmatrix::Transitions(args);
  if (command == "generate") return oppmatrix::Generate(args);
  if (command == "status") return oppmatrix::Status(args);
  if (command == "dlq") return oppmatrix::Dlq(args);
  std::fprintf(stderr, "unknown command \"%s\"\n\n%s\n", command.c_str(),
               oppmatrix::kUsage);
  return oppmatrix::kExitUsage;
}
