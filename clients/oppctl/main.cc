// oppctl: the oppmatrix command-line tool.
//
// Exit codes: 0 success; 1 the server or the ruleset said no (e.g.
// INVALID_ARGUMENT, an invalid ruleset); 2 usage or input error; 3 the
// server could not be reached (UNAVAILABLE, DEADLINE_EXCEEDED); 4 not found;
// 5 not authorized (UNAUTHENTICATED, PERMISSION_DENIED).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cpp/classification_client.h"
#include "clients/cpp/connection_flags.h"
#include "clients/oppctl/crm_import.h"
#include "clients/oppctl/format.h"
#include "clients/oppctl/matrix_svg.h"
#include "clients/oppctl/opportunity_input.h"
#include "clients/oppctl/rules_diff.h"
#include "clients/sim/opportunity_generator.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "oppmatrix/v1/ingestion_service.grpc.pb.h"
#include "oppmatrix/v1/ruleset_service.grpc.pb.h"
#include "services/common/enum_names.h"
#include "services/common/env_flags.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/status_util.h"
#include "services/engine/iso_codes.h"
#include "services/engine/ruleset.h"
#include "services/ingestion/dead_letters.h"  // ReasonPattern
#include "services/store/async_redis.h"
#include "services/store/redis_url.h"
#include "services/store/snapshot_store.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "The classifier's gRPC address");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "Deadline per call");
ABSL_FLAG(bool, json, false, "Print JSON (proto field names) for scripts");
ABSL_FLAG(bool, no_reasons, false, "Ask for results without reasons");
ABSL_FLAG(std::string, format, "auto",
          "Input format of classify: auto, json, yaml, jsonl (one JSON "
          "opportunity per line) or csv (a header row of field paths such as "
          "id, stage, account.industry, amount); jsonl and csv are "
          "classified in batches; auto goes by the file name");
ABSL_FLAG(int, batch_size, 500, "classify of JSONL: opportunities per batch");
ABSL_FLAG(std::string, tenant, "",
          "The tenant of get, matrix, list, transitions and generate");
ABSL_FLAG(int, top, 3, "matrix: top opportunities shown per cell (0-100)");
ABSL_FLAG(std::string, customer_type, "",
          "matrix: only this customer type, e.g. SME");
ABSL_FLAG(std::string, industry, "", "matrix: only this industry, e.g. RETAIL");
ABSL_FLAG(std::string, stage, "",
          "matrix: only this buying stage, e.g. DECISION");
ABSL_FLAG(std::string, cell, "", "list, pin: the cell, e.g. KEY");
ABSL_FLAG(int, page_size, 0,
          "list, transitions: results per page (0: the server's 50)");
ABSL_FLAG(std::string, page_token, "",
          "list, transitions: continue from this next_page_token");
ABSL_FLAG(bool, all, false, "list, transitions: follow every page");
ABSL_FLAG(int, count, 100,
          "generate: how many opportunities; dlq list: entries per page "
          "(at most 500)");
ABSL_FLAG(uint64_t, seed, 1, "generate: the random seed");
ABSL_FLAG(std::string, ingestion, "127.0.0.1:50052",
          "status, import, dlq: the ingestion service's gRPC address");
ABSL_FLAG(std::string, redis, "redis://127.0.0.1:6379/0",
          "rules diff --from_snapshots: the Redis holding the ingestion "
          "service's snapshots (read directly, by design: a what-if over "
          "the live data that no service owns an RPC for)");
ABSL_FLAG(std::string, from, "",
          "import: the CRM whose export this is: salesforce, hubspot, "
          "dynamics, odoo or pipedrive");
ABSL_FLAG(std::string, mapping, "",
          "import: a YAML mapping of the export's columns (instead of --from)");
ABSL_FLAG(std::string, currency, "",
          "import: the currency of amounts that name none (overrides the "
          "mapping's)");
ABSL_FLAG(int64_t, max_entries, 100000,
          "dlq summary: read at most this many entries, oldest first");
ABSL_FLAG(std::string, style, "auto",
          "matrix: grid (boxes), plain (one block per cell) or auto (grid "
          "on a terminal, plain otherwise)");
ABSL_FLAG(std::string, svg, "",
          "matrix: also draw the matrix as an SVG picture into this file "
          "(- for stdout, then without the text)");
ABSL_FLAG(int, svg_max_points, 5000,
          "matrix --svg: most opportunities drawn, shared among the cells by "
          "their counts (highest priority first)");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(2),
          "watch: how often to look for new cell moves");
ABSL_FLAG(int, max_moves, 0,
          "watch: stop after printing this many moves (0: until interrupted)");
ABSL_FLAG(bool, from_snapshots, false,
          "rules diff: compare --tenant's live opportunities (the ingestion "
          "service's snapshots in --redis) instead of files; whatif: ID is "
          "the id of one of them");
ABSL_FLAG(std::string, to, "", "whatif: the target cell, e.g. KEY");
ABSL_FLAG(std::vector<std::string>, levers, {},
          "whatif: the levers that may change, comma-separated (meetings, "
          "contacts, champion, executive_sponsor, stage); empty: all");
ABSL_FLAG(int, max_options, 0, "whatif: most options shown, 1-10 (0: 3)");
ABSL_FLAG(std::string, entries, "",
          "explain: the history entries compared, TO or TO,FROM (0 = newest; "
          "default: the newest and the one before it)");
ABSL_FLAG(std::string, reason, "", "pin: why, in your words (required)");
ABSL_FLAG(std::string, until, "",
          "pin: when the pin ends: a time (2027-01-31T00:00:00Z) or a "
          "duration from now (168h)");
ABSL_FLAG(std::string, author, "",
          "rules upload|publish|rollback, pin: who makes the change "
          "(default: $USER)");
ABSL_FLAG(bool, wait, false,
          "rules publish|rollback|status: wait until the rescore the change "
          "started is done, printing its progress");
ABSL_FLAG(int, max_listed, 20,
          "rules diff: how many moved opportunities to list");

namespace oppmatrix {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRejected = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitNotFound = 4;
constexpr int kExitUnauthorized = 5;

constexpr char kExitCodes[] =
    "exit codes: 0 ok; 1 rejected (the server or the ruleset said no); 2 "
    "usage or input error; 3 server unreachable or too slow; 4 not found; 5 "
    "not authorized.\n";

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitUnauthorized;
    default:
      return kExitRejected;
  }
}

// The connection settings of `target` with the TLS and token flags.
absl::StatusOr<ClientOptions> ConnectionOptions(const std::string& target) {
  return ConnectionOptionsFromFlags(target, absl::GetFlag(FLAGS_timeout));
}

absl::StatusOr<std::unique_ptr<ClassificationClient>> NewClient() {
  absl::StatusOr<ClientOptions> options =
      ConnectionOptions(absl::GetFlag(FLAGS_target));
  if (!options.ok()) return options.status();
  return ClassificationClient::Create(*options);
}

// Prints the error and returns its exit code.
int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s", FormatError(status).c_str());
  return ExitCodeFor(status);
}

// A connection flag is wrong (an unreadable certificate, ...).
int BadConnection(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  return kExitUsage;
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
// "csv" or "jsonl" when `path` holds many opportunities in that format (by
// `format`, or for "auto" by the file's extension); "" when it holds one.
std::string ManyFormat(const std::string& format, const std::string& path) {
  if (format == "csv" || format == "jsonl") return format;
  if (format != "auto") return "";
  if (absl::EndsWith(path, ".csv")) return "csv";
  if (absl::EndsWith(path, ".jsonl")) return "jsonl";
  return "";
}

absl::StatusOr<std::vector<v1::Opportunity>> ParseManyOpportunities(
    absl::string_view text, const std::string& format,
    const std::string& name) {
  return format == "csv" ? ParseOpportunitiesCsv(text, name)
                         : ParseOpportunitiesJsonl(text, name);
}

// Many opportunities from one file: JSONL (one JSON opportunity per line)
// or CSV (a header row of field paths), classified in batches.
int ClassifyMany(const std::string& path, const std::string& format) {
  absl::StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) return Usage(std::string(text.status().message()));
  const int batch_size = absl::GetFlag(FLAGS_batch_size);
  if (batch_size < 1) return Usage("--batch_size must be at least 1");
  const std::string name = path == "-" ? "<stdin>" : path;
  absl::StatusOr<std::vector<v1::Opportunity>> parsed =
      ParseManyOpportunities(*text, format, name);
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  std::vector<v1::Opportunity> all = *std::move(parsed);
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
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
      // The same shape as a single classify's --json: the Classification.
      if (json) std::cout << FormatJson(r.classification()) << "\n";
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
  const std::string format = absl::GetFlag(FLAGS_format);
  if (const std::string many = ManyFormat(format, paths[0]); !many.empty()) {
    if (paths.size() != 1) {
      return Usage(absl::StrCat("classify of ", many, " takes one FILE"));
    }
    return ClassifyMany(paths[0], many);
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
  if (!client.ok()) return BadConnection(client.status());
  absl::StatusOr<v1::Classification> c =
      (*client)->GetClassification(absl::GetFlag(FLAGS_tenant), args[0]);
  if (!c.ok()) return Fail(c.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(*c) + "\n"
                                          : FormatClassificationTable(*c));
  return kExitOk;
}

int History(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("usage: oppctl --tenant=T history ID");
  if (!NeedTenant()) return kExitUsage;
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
  absl::StatusOr<v1::GetHistoryResponse> h =
      (*client)->GetHistory(absl::GetFlag(FLAGS_tenant), args[0]);
  if (!h.ok()) return Fail(h.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(*h) + "\n"
                                          : FormatHistory(*h));
  return kExitOk;
}

int Explain(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Usage("usage: oppctl --tenant=T explain ID [--entries=TO,FROM]");
  }
  if (!NeedTenant()) return kExitUsage;
  v1::ExplainRequest request;
  request.set_tenant_id(absl::GetFlag(FLAGS_tenant));
  request.set_opportunity_id(args[0]);
  const std::string entries = absl::GetFlag(FLAGS_entries);
  if (!entries.empty()) {
    std::vector<std::string> parts = absl::StrSplit(entries, ',');
    int to = 0, from = 0;
    if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &to) ||
        (parts.size() == 2 && !absl::SimpleAtoi(parts[1], &from))) {
      return Usage(absl::StrCat(
          "--entries: \"", entries,
          "\" is not TO or TO,FROM (history entry numbers, 0 = newest)"));
    }
    request.set_to_entry(to);
    request.set_from_entry(from);
  }
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
  absl::StatusOr<v1::ExplainResponse> why = (*client)->Explain(request);
  if (!why.ok()) return Fail(why.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(*why) + "\n"
                                          : FormatExplain(*why));
  return kExitOk;
}

std::string Author();

int Pin(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Usage(
        "usage: oppctl --tenant=T pin ID --cell=C --reason=TEXT "
        "--until=TIME|DURATION");
  }
  if (!NeedTenant()) return kExitUsage;
  v1::PinOpportunityRequest request;
  request.set_tenant_id(absl::GetFlag(FLAGS_tenant));
  request.set_opportunity_id(args[0]);
  request.set_cell(absl::GetFlag(FLAGS_cell));
  request.set_reason(absl::GetFlag(FLAGS_reason));
  request.set_author(Author());
  const std::string until = absl::GetFlag(FLAGS_until);
  absl::Time t;
  absl::Duration d;
  std::string error;
  if (absl::ParseDuration(until, &d)) {
    t = absl::Now() + d;
  } else if (!absl::ParseTime(absl::RFC3339_full, until, &t, &error)) {
    return Usage(absl::StrCat(
        "--until: \"", until,
        "\" is neither a time (2027-01-31T00:00:00Z) nor a duration (168h)"));
  }
  *request.mutable_expire_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(t));
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
  absl::StatusOr<v1::PinOpportunityResponse> r =
      (*client)->PinOpportunity(request);
  if (!r.ok()) return Fail(r.status());
  std::cout << (absl::GetFlag(FLAGS_json)
                    ? FormatJson(r->classification()) + "\n"
                    : FormatClassificationTable(r->classification()));
  return kExitOk;
}

int Unpin(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("usage: oppctl --tenant=T unpin ID");
  if (!NeedTenant()) return kExitUsage;
  v1::UnpinOpportunityRequest request;
  request.set_tenant_id(absl::GetFlag(FLAGS_tenant));
  request.set_opportunity_id(args[0]);
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
  absl::StatusOr<v1::UnpinOpportunityResponse> r =
      (*client)->UnpinOpportunity(request);
  if (!r.ok()) return Fail(r.status());
  std::cout << (absl::GetFlag(FLAGS_json)
                    ? FormatJson(r->classification()) + "\n"
                    : FormatClassificationTable(r->classification()));
  return kExitOk;
}

int Account(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("usage: oppctl --tenant=T account ID");
  if (!NeedTenant()) return kExitUsage;
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
  absl::StatusOr<v1::GetAccountResponse> a =
      (*client)->GetAccount(absl::GetFlag(FLAGS_tenant), args[0]);
  if (!a.ok()) return Fail(a.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(*a) + "\n"
                                          : FormatAccount(*a));
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

// The opportunities to draw: up to `max_points`, shared among the cells in
// proportion to their counts, each cell's highest priority first.
absl::StatusOr<std::vector<v1::Classification>> MatrixPoints(
    ClassificationClient& client, const v1::GetMatrixRequest& filter,
    const v1::GetMatrixResponse& matrix, int max_points) {
  int64_t total = 0;
  for (const v1::MatrixCellSummary& c : matrix.cells()) total += c.count();
  std::vector<v1::Classification> points;
  for (const v1::MatrixCellSummary& cell : matrix.cells()) {
    int64_t want = cell.count();
    if (total > max_points) {
      want = std::min<int64_t>(cell.count(),
                               (cell.count() * max_points + total - 1) / total);
    }
    std::string token;
    int64_t got = 0;
    while (got < want) {
      v1::ListOpportunitiesRequest request;
      request.set_tenant_id(matrix.tenant_id());
      request.set_cell(cell.cell());
      request.set_page_size(
          static_cast<int>(std::min<int64_t>(500, want - got)));
      request.set_page_token(token);
      absl::StatusOr<v1::ListOpportunitiesResponse> page =
          client.ListOpportunities(request);
      if (!page.ok()) return page.status();
      for (const v1::Classification& c : page->classifications()) {
        // The filters of the matrix apply to the dots too.
        if ((filter.customer_type() != v1::CUSTOMER_TYPE_UNSPECIFIED &&
             c.customer_type() != filter.customer_type()) ||
            (filter.industry() != v1::INDUSTRY_UNSPECIFIED &&
             c.industry() != filter.industry()) ||
            (filter.buying_stage() != v1::BUYING_STAGE_UNSPECIFIED &&
             c.buying_stage() != filter.buying_stage())) {
          continue;
        }
        points.push_back(c);
        if (++got == want) break;
      }
      token = page->next_page_token();
      if (token.empty()) break;
    }
  }
  return points;
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
  const std::string style = absl::GetFlag(FLAGS_style);
  if (style != "auto" && style != "grid" && style != "plain") {
    return Usage("--style: one of auto, grid, plain");
  }
  const std::string svg_path = absl::GetFlag(FLAGS_svg);
  if (absl::GetFlag(FLAGS_svg_max_points) < 0) {
    return Usage("--svg_max_points must be >= 0");
  }
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
  absl::StatusOr<v1::GetMatrixResponse> m = (*client)->GetMatrix(request);
  if (!m.ok()) return Fail(m.status());
  if (!svg_path.empty()) {
    absl::StatusOr<std::vector<v1::Classification>> points = MatrixPoints(
        **client, request, *m, absl::GetFlag(FLAGS_svg_max_points));
    if (!points.ok()) return Fail(points.status());
    std::string svg = RenderMatrixSvg(
        *m, *points,
        {.subtitle = absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(),
                                      absl::UTCTimeZone())});
    if (svg_path == "-") {
      std::cout << svg;
      return kExitOk;
    }
    std::ofstream out(svg_path, std::ios::binary | std::ios::trunc);
    out << svg;
    out.close();
    if (!out) return Usage(absl::StrCat("--svg: cannot write ", svg_path));
    int64_t total = 0;
    for (const v1::MatrixCellSummary& c : m->cells()) total += c.count();
    std::fprintf(stderr, "wrote %s: %zu of %lld opportunities\n",
                 svg_path.c_str(), points->size(),
                 static_cast<long long>(total));
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << FormatJson(*m) << "\n";
  } else {
    const bool grid =
        style == "grid" || (style == "auto" && isatty(STDOUT_FILENO));
    std::cout << (grid ? FormatStoredMatrix(*m) : FormatStoredMatrixPlain(*m));
  }
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
  if (!client.ok()) return BadConnection(client.status());
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
  if (!client.ok()) return BadConnection(client.status());
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

std::atomic<bool> interrupted{false};

// Where a transition stands in its stream; {0, 0} for an unreadable id.
std::pair<uint64_t, uint64_t> TransitionOrder(const std::string& id) {
  return ParseStreamId(id).value_or(std::pair<uint64_t, uint64_t>{0, 0});
}

// Prints the latest moves, then each new one as it is recorded, oldest
// first, until interrupted (or --max_moves).
int Watch(const std::vector<std::string>& args) {
  if (!args.empty()) return Usage("usage: oppctl --tenant=T watch");
  if (!NeedTenant()) return kExitUsage;
  const absl::Duration interval = absl::GetFlag(FLAGS_interval);
  const int max_moves = absl::GetFlag(FLAGS_max_moves);
  if (interval <= absl::ZeroDuration()) return Usage("--interval must be > 0");
  if (max_moves < 0) return Usage("--max_moves must be >= 0");
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
  signal(SIGINT, [](int) { interrupted = true; });
  signal(SIGTERM, [](int) { interrupted = true; });
  const bool json = absl::GetFlag(FLAGS_json);
  std::pair<uint64_t, uint64_t> last{0, 0};
  bool first = true;
  int printed = 0;
  while (!interrupted) {
    // Newest first: page back until the last move already shown.
    std::vector<v1::Transition> fresh;
    std::string token;
    bool reached = false;
    do {
      v1::ListTransitionsRequest request;
      request.set_tenant_id(absl::GetFlag(FLAGS_tenant));
      request.set_page_size(first ? 10 : 200);
      request.set_page_token(token);
      absl::StatusOr<v1::ListTransitionsResponse> page =
          (*client)->ListTransitions(request);
      if (!page.ok()) return Fail(page.status());
      for (const v1::Transition& t : page->transitions()) {
        if (TransitionOrder(t.id()) <= last) {
          reached = true;
          break;
        }
        fresh.push_back(t);
      }
      token = page->next_page_token();
    } while (!first && !reached && !token.empty() && fresh.size() < 10000);
    if (first) {
      std::fprintf(stderr, "watching tenant %s for cell moves (Ctrl-C stops)\n",
                   absl::GetFlag(FLAGS_tenant).c_str());
    }
    first = false;
    for (auto it = fresh.rbegin(); it != fresh.rend(); ++it) {
      std::cout << (json ? FormatJson(*it) + "\n" : FormatTransitionLine(*it));
      last = std::max(last, TransitionOrder(it->id()));
      if (max_moves > 0 && ++printed >= max_moves) {
        std::cout.flush();
        return kExitOk;
      }
    }
    std::cout.flush();
    absl::Time until = absl::Now() + interval;
    while (!interrupted && absl::Now() < until) {
      absl::SleepFor(std::min(absl::Milliseconds(100), until - absl::Now()));
    }
  }
  return kExitOk;
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
  absl::StatusOr<ClientOptions> options =
      ConnectionOptions(absl::GetFlag(FLAGS_ingestion));
  if (!options.ok()) return BadConnection(options.status());
  auto stub = v1::IngestionService::NewStub(NewChannel(*options));
  auto context = NewCallContext(*options, options->timeout);
  v1::GetStatusResponse s;
  grpc::Status status = stub->GetStatus(context.get(), {}, &s);
  if (!status.ok()) return Fail(FromGrpcStatus(status));
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << FormatJson(s) << "\n";
    return kExitOk;
  }
  const bool kafka = s.bus() == "kafka";
  std::cout << absl::StrFormat(
      "%-16s%s (group %s, %d consumers; this is %s)\n"
      "lag             %d events not yet %s\n"
      "pending         %d delivered%s, not yet acknowledged\n"
      "processed       %d (%d duplicates, %d stale) in %d batches\n"
      "dead-lettered   %d\n"
      "errors          classifier %d, %s %d\n"
      "pushed          %d\n",
      kafka ? "kafka topic" : "stream", s.stream(), s.group(), s.consumers(),
      s.consumer(), s.lag(), kafka ? "committed" : "delivered", s.pending(),
      kafka ? " to this replica" : "", s.processed(), s.duplicates(), s.stale(),
      s.batches(), s.dead_lettered(), s.classifier_errors(),
      kafka ? "redis or kafka" : "redis", s.store_errors(), s.pushed());
  if (kafka) {
    std::cout << absl::StrFormat(
        "rebalances      %d (%d events let go to their partition's new "
        "owner)\n",
        s.rebalances(), s.released());
    std::cout << "partition  committed  high watermark  lag  here\n";
    for (const v1::PartitionStatus& p : s.partitions()) {
      std::cout << absl::StrFormat(
          "%9d  %9s  %14d  %3d  %s\n", p.partition(),
          p.committed_offset() < 0 ? "-" : absl::StrCat(p.committed_offset()),
          p.high_watermark(), p.lag(),
          p.paused()     ? "paused"
          : p.assigned() ? "yes"
                         : "");
    }
  }
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

// Problems grouped by reason (the line numbers of each, the first ten
// listed), the largest group first.
void PrintIssues(const char* what, const std::vector<ImportIssue>& issues) {
  if (issues.empty()) return;
  struct Group {
    std::vector<int> lines;
    std::string example;  // the first one as written
  };
  std::map<std::string, Group> by_reason;
  for (const ImportIssue& i : issues) {
    Group& g = by_reason[ReasonPattern(i.reason)];
    if (g.lines.empty()) g.example = i.reason;
    g.lines.push_back(i.line);
  }
  std::vector<std::pair<std::string, Group>> groups(by_reason.begin(),
                                                    by_reason.end());
  std::stable_sort(groups.begin(), groups.end(), [](auto& a, auto& b) {
    return a.second.lines.size() > b.second.lines.size();
  });
  std::cout << issues.size() << " " << what << ":\n";
  for (const auto& [reason, g] : groups) {
    const size_t n = std::min<size_t>(g.lines.size(), 10);
    std::vector<int> shown(g.lines.begin(), g.lines.begin() + n);
    std::cout << absl::StrFormat("%6d  ", g.lines.size()) << reason
              << "\n        lines " << absl::StrJoin(shown, ", ")
              << (g.lines.size() > n ? ", ..." : "") << "\n";
    if (g.example != reason) {
      std::cout << "        e.g. line " << g.lines[0] << ": " << g.example
                << "\n";
    }
  }
}

// `import FILE`: a CRM's CSV export onto the bus through PushEvents.
int Import(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Usage(
        "usage: oppctl --tenant=T import FILE --from=CRM|--mapping=FILE");
  }
  const std::string tenant = absl::GetFlag(FLAGS_tenant);
  if (tenant.empty()) return Usage("import: --tenant is required");
  const std::string from = absl::GetFlag(FLAGS_from);
  const std::string mapping_file = absl::GetFlag(FLAGS_mapping);
  if (from.empty() == mapping_file.empty()) {
    return Usage("import: give --from=CRM or --mapping=FILE (one of them)");
  }
  absl::StatusOr<ImportMapping> mapping;
  if (!from.empty()) {
    mapping = PresetMapping(from);
  } else {
    absl::StatusOr<std::string> yaml = ReadInput(mapping_file);
    if (!yaml.ok()) return Usage(std::string(yaml.status().message()));
    mapping = ParseImportMapping(*yaml, mapping_file);
  }
  if (!mapping.ok()) return Usage(std::string(mapping.status().message()));
  if (const std::string c = absl::GetFlag(FLAGS_currency); !c.empty()) {
    std::optional<std::string> code = NormalizeCurrency(c);
    if (!code.has_value()) {
      return Usage(
          absl::StrCat("--currency: \"", c, "\" is not an ISO 4217 currency"));
    }
    mapping->currency = *code;
  }
  absl::StatusOr<std::string> text = ReadInput(args[0]);
  if (!text.ok()) return Usage(std::string(text.status().message()));
  absl::StatusOr<ImportResult> result =
      ImportCsv(*text, *mapping, tenant, absl::Now(), args[0]);
  if (!result.ok()) return Usage(std::string(result.status().message()));

  absl::StatusOr<ClientOptions> options =
      ConnectionOptions(absl::GetFlag(FLAGS_ingestion));
  if (!options.ok()) return BadConnection(options.status());
  auto stub = v1::IngestionService::NewStub(NewChannel(*options));
  auto context =
      NewCallContext(*options, std::max(options->timeout, absl::Minutes(10)));
  v1::PushEventsResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::PushEventsRequest>> writer =
      stub->PushEvents(context.get(), &response);
  const bool bar = isatty(STDERR_FILENO) && !absl::GetFlag(FLAGS_json);
  constexpr size_t kPerMessage = 500;
  const size_t total = result->events.size();
  for (size_t i = 0; i < total; i += kPerMessage) {
    v1::PushEventsRequest request;
    for (size_t j = i; j < std::min(total, i + kPerMessage); ++j) {
      *request.add_events() = result->events[j];
    }
    if (!writer->Write(request)) break;
    if (bar) {
      const size_t done = std::min(total, i + kPerMessage);
      const int width = 40;
      const int filled = static_cast<int>(width * done / total);
      std::cerr << "\r[" << std::string(filled, '#')
                << std::string(width - filled, ' ') << "] " << done << "/"
                << total << std::flush;
    }
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (bar) std::cerr << "\n";
  if (!status.ok()) return Fail(FromGrpcStatus(status));
  // Events the service refused are rows not imported.
  std::vector<ImportIssue> rejected = result->rejected;
  for (const v1::RejectedEvent& r : response.rejections()) {
    std::vector<std::string> what;
    for (const auto& v : r.violations()) {
      what.push_back(absl::StrCat(v.field(), ": ", v.description()));
    }
    const int line = r.index() >= 0 && r.index() < static_cast<int64_t>(total)
                         ? result->lines[r.index()]
                         : 0;
    rejected.push_back(
        {line, absl::StrCat("refused: ", absl::StrJoin(what, "; "))});
  }
  // The service details the first 1000 refusals; the rest are counted.
  const int64_t undetailed =
      std::max<int64_t>(0, response.rejected() - response.rejections_size());
  for (int64_t i = 0; i < undetailed; ++i) {
    rejected.push_back({0, "refused (no details: past the first 1000)"});
  }
  std::sort(rejected.begin(), rejected.end(),
            [](const ImportIssue& a, const ImportIssue& b) {
              return a.line < b.line;
            });
  if (absl::GetFlag(FLAGS_json)) {
    google::protobuf::Struct out;
    auto& f = *out.mutable_fields();
    f["rows"].set_number_value(static_cast<double>(result->rows));
    f["pushed"].set_number_value(static_cast<double>(response.accepted()));
    f["rejected"].set_number_value(static_cast<double>(rejected.size()));
    f["warnings"].set_number_value(
        static_cast<double>(result->warnings.size()));
    auto* list = f["rejections"].mutable_list_value();
    for (const ImportIssue& i : rejected) {
      auto& row = *list->add_values()->mutable_struct_value()->mutable_fields();
      row["line"].set_number_value(i.line);
      row["reason"].set_string_value(i.reason);
    }
    std::cout << FormatJson(out) << "\n";
  } else {
    std::cout << "read " << result->rows << " rows of " << args[0] << " ("
              << mapping->name << "): " << response.accepted()
              << " events pushed, " << rejected.size() << " rows rejected, "
              << result->warnings.size() << " values left out\n";
    PrintIssues("rows rejected", rejected);
    PrintIssues("values left out", result->warnings);
  }
  return rejected.empty() ? kExitOk : kExitRejected;
}

// A client of --redis; INVALID_ARGUMENT naming the flag for a bad URL.
absl::StatusOr<std::unique_ptr<AsyncRedis>> RedisFromFlags() {
  absl::StatusOr<RedisEndpoint> endpoint =
      ParseRedisUrl(absl::GetFlag(FLAGS_redis));
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--redis: ", endpoint.status().message()));
  }
  if (absl::GetFlag(FLAGS_timeout) <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout: must be positive");
  }
  return AsyncRedis::Create(
      {.endpoint = *endpoint, .command_timeout = absl::GetFlag(FLAGS_timeout)});
}

// `dlq summary`: the dead letters grouped by reason, largest group first.
int DlqSummary(v1::IngestionService::Stub& stub, const ClientOptions& options) {
  const int64_t max_entries = absl::GetFlag(FLAGS_max_entries);
  if (max_entries < 1) return Usage("--max_entries: must be at least 1");
  v1::SummarizeDeadLettersRequest request;
  request.set_max_entries(max_entries);
  v1::SummarizeDeadLettersResponse summary;
  auto context = NewCallContext(options, options.timeout);
  grpc::Status status =
      stub.SummarizeDeadLetters(context.get(), request, &summary);
  if (!status.ok()) return Fail(FromGrpcStatus(status));
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << FormatJson(summary, /*with_defaults=*/true) << "\n";
    return kExitOk;
  }
  auto time = [](const google::protobuf::Timestamp& t) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                            absl::FromUnixSeconds(t.seconds()),
                            absl::UTCTimeZone());
  };
  if (summary.entries() == 0) {
    std::cout << "the dead-letter stream is empty\n";
    return kExitOk;
  }
  std::cout << summary.entries() << " dead letters, " << summary.groups_size()
            << (summary.groups_size() == 1 ? " reason" : " reasons")
            << (summary.truncated()
                    ? absl::StrCat(" (the oldest ", max_entries,
                                   "; --max_entries reads more)")
                    : "")
            << "\n";
  for (const v1::DeadLetterGroup& g : summary.groups()) {
    std::cout << "\n"
              << absl::StrFormat("%6d  ", g.count()) << g.reason() << "\n"
              << "        first " << time(g.first_time()) << "  last "
              << time(g.last_time()) << "\n        e.g. " << g.example_id()
              << (g.example_event_id().empty()
                      ? ""
                      : absl::StrCat(" (event ", g.example_event_id(), ")"))
              << ": "
              << absl::StrJoin(absl::StrSplit(g.example_reason(), '\n',
                                              absl::SkipWhitespace()),
                               " ")
              << "\n";
  }
  return kExitOk;
}

// `dlq list`: one page of --count entries after --page_token.
int DlqList(v1::IngestionService::Stub& stub, const ClientOptions& options) {
  const int count = absl::GetFlag(FLAGS_count);
  if (count < 1 || count > 500) return Usage("--count: must be 1 to 500");
  v1::ListDeadLettersRequest request;
  request.set_page_size(count);
  request.set_page_token(absl::GetFlag(FLAGS_page_token));
  v1::ListDeadLettersResponse page;
  auto context = NewCallContext(options, options.timeout);
  grpc::Status status = stub.ListDeadLetters(context.get(), request, &page);
  if (!status.ok()) return Fail(FromGrpcStatus(status));
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << FormatJson(page, /*with_defaults=*/true) << "\n";
  } else {
    for (const v1::DeadLetter& e : page.dead_letters()) {
      std::string event =
          !e.content_type().empty() && e.content_type() != "application/json"
              ? absl::StrCat("(", e.content_type(), ", ", e.event().size(),
                             " bytes)")
          : e.event().size() > 160
              ? absl::StrCat(e.event().substr(0, 157), "...")
              : e.event();
      std::cout << e.id() << "  "
                << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                    absl::FromUnixSeconds(e.time().seconds()),
                                    absl::UTCTimeZone())
                << "  deliveries " << e.deliveries()
                << "\n  reason: " << e.reason()
                << "\n  event:  " << (event.empty() ? "(none)" : event) << "\n";
    }
  }
  if (!page.next_page_token().empty()) {
    std::cerr << "more: --page_token=" << page.next_page_token() << "\n";
  }
  return kExitOk;
}

int Dlq(const std::vector<std::string>& args) {
  if (args.empty() ||
      (args[0] != "list" && args[0] != "replay" && args[0] != "summary")) {
    return Usage(
        "usage: oppctl dlq list | oppctl dlq summary | oppctl dlq replay "
        "ID...|--all");
  }
  absl::StatusOr<ClientOptions> options =
      ConnectionOptions(absl::GetFlag(FLAGS_ingestion));
  if (!options.ok()) return BadConnection(options.status());
  auto stub = v1::IngestionService::NewStub(NewChannel(*options));
  if (args[0] == "summary") {
    if (args.size() != 1) return Usage("usage: oppctl dlq summary");
    return DlqSummary(*stub, *options);
  }
  if (args[0] == "list") {
    if (args.size() != 1) return Usage("usage: oppctl dlq list");
    return DlqList(*stub, *options);
  }
  v1::ReplayDeadLettersRequest request;
  for (size_t i = 1; i < args.size(); ++i) request.add_ids(args[i]);
  if (absl::GetFlag(FLAGS_all)) {
    if (request.ids_size() > 0) {
      return Usage("dlq replay: IDs or --all, not both");
    }
    request.set_all(true);
  } else if (request.ids_size() == 0) {
    return Usage("usage: oppctl dlq replay ID...|--all");
  }
  v1::ReplayDeadLettersResponse replayed;
  auto context = NewCallContext(*options, options->timeout);
  grpc::Status status =
      stub->ReplayDeadLetters(context.get(), request, &replayed);
  if (!status.ok()) return Fail(FromGrpcStatus(status));
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << FormatJson(replayed, /*with_defaults=*/true) << "\n";
  } else if (replayed.requested() == 0) {
    std::cout << "nothing to replay: the dead-letter stream is empty\n";
  } else {
    std::cout << "replayed " << replayed.replayed() << " of "
              << replayed.requested() << " dead-lettered events onto "
              << replayed.stream() << "\n";
  }
  return kExitOk;
}

// The ruleset in FILE, or the exit code after saying why not.
std::variant<std::shared_ptr<const CompiledRuleset>, int> LoadRules(
    const std::string& path) {
  absl::StatusOr<std::shared_ptr<const CompiledRuleset>> rules =
      LoadRulesetFile(path);
  if (rules.ok()) return *rules;
  std::fprintf(stderr, "%s\n", std::string(rules.status().message()).c_str());
  return rules.status().code() == absl::StatusCode::kInvalidArgument
             ? kExitRejected
             : kExitUsage;
}

// Opportunities from files: JSONL (.jsonl, or - for stdin) one per line,
// else one JSON or YAML opportunity per file.
absl::StatusOr<std::vector<v1::Opportunity>> ReadOpportunities(
    const std::vector<std::string>& paths) {
  std::vector<v1::Opportunity> out;
  for (const std::string& path : paths) {
    absl::StatusOr<std::string> text = ReadInput(path);
    if (!text.ok()) return text.status();
    const std::string name = path == "-" ? "<stdin>" : path;
    // Standard input is JSONL here: many opportunities, one per line.
    const std::string format = path == "-" ? "jsonl" : ManyFormat("auto", path);
    if (!format.empty()) {
      absl::StatusOr<std::vector<v1::Opportunity>> many =
          ParseManyOpportunities(*text, format, name);
      if (!many.ok()) return many.status();
      for (v1::Opportunity& o : *many) out.push_back(std::move(o));
      continue;
    }
    absl::StatusOr<v1::Opportunity> o = ParseOpportunity(*text, "auto", name);
    if (!o.ok()) return o.status();
    out.push_back(*std::move(o));
  }
  return out;
}

// The tenant's live opportunities: the ingestion service's snapshots in
// --redis, without tombstones and partial ones.
absl::StatusOr<std::vector<v1::Opportunity>> TenantOpportunities(
    AsyncRedis* redis, const std::string& tenant) {
  RedisSnapshotStore store(redis, {});
  std::vector<v1::Opportunity> out;
  std::string cursor = "0";
  do {
    absl::StatusOr<RedisSnapshotStore::Page> page = store.ScanTenant(
        tenant, cursor, 1000, absl::Now() + absl::GetFlag(FLAGS_timeout));
    if (!page.ok()) return page.status();
    for (v1::OpportunitySnapshot& s : page->snapshots) {
      if (s.deleted() || s.awaiting_full()) continue;
      out.push_back(std::move(*s.mutable_opportunity()));
    }
    cursor = page->cursor;
  } while (cursor != "0");
  return out;
}

// --author, else $USER; "" (after a message) when there is neither.
std::string Author() {
  std::string author = absl::GetFlag(FLAGS_author);
  if (author.empty()) {
    const char* user = std::getenv("USER");
    if (user != nullptr) author = user;
  }
  if (author.empty()) std::fprintf(stderr, "--author is required\n");
  return author;
}

// Calls `method` of the classifier's RulesetService and prints the answer
// with `print` (or as JSON).
template <typename Request, typename Response, typename Method, typename Print>
int CallRules(Method method, const Request& request, Print print) {
  absl::StatusOr<ClientOptions> options =
      ConnectionOptions(absl::GetFlag(FLAGS_target));
  if (!options.ok()) return BadConnection(options.status());
  auto stub = v1::RulesetService::NewStub(NewChannel(*options));
  auto context = NewCallContext(*options, options->timeout);
  Response response;
  grpc::Status status = ((*stub).*method)(context.get(), request, &response);
  if (!status.ok()) return Fail(FromGrpcStatus(status));
  std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(response) + "\n"
                                          : print(response));
  return kExitOk;
}

// The tenant's latest rescore, printed; with --wait polled (and each
// change of its progress printed, at most once a second) until rescore
// `id` or a later one is done.
int RescoreStatus(const std::string& tenant, int64_t id) {
  absl::StatusOr<ClientOptions> options =
      ConnectionOptions(absl::GetFlag(FLAGS_target));
  if (!options.ok()) return BadConnection(options.status());
  auto stub = v1::RulesetService::NewStub(NewChannel(*options));
  v1::GetRescoreStatusRequest request;
  request.set_tenant_id(tenant);
  const bool wait = absl::GetFlag(FLAGS_wait);
  int64_t printed = -1;
  absl::Time last = absl::InfinitePast();
  while (true) {
    auto context = NewCallContext(*options, options->timeout);
    v1::RescoreStatus status;
    grpc::Status s = stub->GetRescoreStatus(context.get(), request, &status);
    if (!s.ok()) return Fail(FromGrpcStatus(s));
    const bool done =
        status.id() >= id && status.state() == v1::RescoreStatus::DONE;
    if (!wait || done ||
        (status.done() != printed && absl::Now() - last >= absl::Seconds(1))) {
      std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(status)
                                              : FormatRescoreStatus(status))
                << std::endl;
      printed = status.done();
      last = absl::Now();
    }
    if (!wait || done) return kExitOk;
    absl::SleepFor(absl::Milliseconds(200));
  }
}

// `rules upload|preview|publish|rollback|list|show|status`: --tenant's own
// rulesets, kept by the classifier (RulesetService).
int RulesOnServer(const std::vector<std::string>& args) {
  const std::string& what = args[0];
  if (!NeedTenant()) return kExitUsage;
  const std::string tenant = absl::GetFlag(FLAGS_tenant);
  if (what == "upload" && args.size() == 2) {
    absl::StatusOr<std::string> yaml = ReadFileToString(args[1]);
    if (!yaml.ok()) return Usage(std::string(yaml.status().message()));
    v1::UploadRulesetRequest request;
    request.set_tenant_id(tenant);
    request.set_yaml(*std::move(yaml));
    request.set_author(Author());
    if (request.author().empty()) return kExitUsage;
    return CallRules<v1::UploadRulesetRequest, v1::UploadRulesetResponse>(
        &v1::RulesetService::Stub::UploadRuleset, request,
        [](const v1::UploadRulesetResponse& r) {
          return absl::StrCat(
              r.created() ? "uploaded " : "already uploaded: ",
              r.ruleset().version(), r.created() ? "" : " (by ",
              r.created() ? "" : r.ruleset().uploaded_by(),
              r.created() ? "" : ")",
              r.ruleset().active() ? ", in force" : ", not in force", "\n");
        });
  }
  if (what == "preview" && args.size() == 2) {
    v1::PreviewRulesetRequest request;
    request.set_tenant_id(tenant);
    request.set_version(args[1]);
    request.set_max_moved(std::clamp(absl::GetFlag(FLAGS_max_listed), 0, 1000));
    return CallRules<v1::PreviewRulesetRequest, v1::PreviewRulesetResponse>(
        &v1::RulesetService::Stub::PreviewRuleset, request,
        [](const v1::PreviewRulesetResponse& r) {
          return FormatRulesetPreview(r);
        });
  }
  if (what == "publish" && args.size() == 2) {
    v1::PublishRulesetRequest request;
    request.set_tenant_id(tenant);
    request.set_version(args[1]);
    request.set_author(Author());
    if (request.author().empty()) return kExitUsage;
    int64_t rescore = 0;
    int code = CallRules<v1::PublishRulesetRequest, v1::PublishRulesetResponse>(
        &v1::RulesetService::Stub::PublishRuleset, request,
        [&rescore](const v1::PublishRulesetResponse& r) {
          rescore = r.rescore_id();
          return r.changed() ? FormatRulesetPublication(r.publication()) + "\n"
                             : absl::StrCat(r.publication().version(),
                                            " is in force already\n");
        });
    if (code != kExitOk || rescore == 0 || !absl::GetFlag(FLAGS_wait)) {
      return code;
    }
    return RescoreStatus(tenant, rescore);
  }
  if (what == "rollback" && args.size() == 1) {
    v1::RollbackRulesetRequest request;
    request.set_tenant_id(tenant);
    request.set_author(Author());
    if (request.author().empty()) return kExitUsage;
    int64_t rescore = 0;
    int code =
        CallRules<v1::RollbackRulesetRequest, v1::RollbackRulesetResponse>(
            &v1::RulesetService::Stub::RollbackRuleset, request,
            [&rescore](const v1::RollbackRulesetResponse& r) {
              rescore = r.rescore_id();
              return FormatRulesetPublication(r.publication()) + "\n";
            });
    if (code != kExitOk || rescore == 0 || !absl::GetFlag(FLAGS_wait)) {
      return code;
    }
    return RescoreStatus(tenant, rescore);
  }
  if (what == "list" && args.size() == 1) {
    v1::ListRulesetsRequest request;
    request.set_tenant_id(tenant);
    return CallRules<v1::ListRulesetsRequest, v1::ListRulesetsResponse>(
        &v1::RulesetService::Stub::ListRulesets, request,
        [](const v1::ListRulesetsResponse& r) { return FormatRulesetList(r); });
  }
  if (what == "show" && args.size() == 2) {
    v1::GetRulesetRequest request;
    request.set_tenant_id(tenant);
    request.set_version(args[1]);
    return CallRules<v1::GetRulesetRequest, v1::GetRulesetResponse>(
        &v1::RulesetService::Stub::GetRuleset, request,
        [](const v1::GetRulesetResponse& r) { return r.yaml(); });
  }
  if (what == "status" && args.size() == 1) return RescoreStatus(tenant, 0);
  return Usage(
      "usage: oppctl --tenant=T rules upload FILE | rules preview VERSION | "
      "rules publish VERSION [--wait] | rules rollback [--wait] | rules list "
      "| rules show VERSION | rules status [--wait]");
}

int Rules(const std::vector<std::string>& args) {
  if (!args.empty() &&
      (args[0] == "upload" || args[0] == "preview" || args[0] == "publish" ||
       args[0] == "rollback" || args[0] == "list" || args[0] == "show" ||
       args[0] == "status")) {
    return RulesOnServer(args);
  }
  if (!args.empty() && args[0] == "check" && args.size() == 2) {
    auto rules = LoadRules(args[1]);
    if (std::holds_alternative<int>(rules)) return std::get<int>(rules);
    const auto& r = std::get<0>(rules);
    if (absl::GetFlag(FLAGS_json)) {
      google::protobuf::Struct out;
      (*out.mutable_fields())["file"].set_string_value(args[1]);
      (*out.mutable_fields())["valid"].set_bool_value(true);
      (*out.mutable_fields())["version"].set_string_value(r->version);
      std::cout << FormatJson(out) << "\n";
    } else {
      std::cout << args[1] << ": OK, version " << r->version << "\n";
    }
    return kExitOk;
  }
  if (!args.empty() && args[0] == "diff" && args.size() >= 3) {
    auto before = LoadRules(args[1]);
    if (std::holds_alternative<int>(before)) return std::get<int>(before);
    auto after = LoadRules(args[2]);
    if (std::holds_alternative<int>(after)) return std::get<int>(after);
    std::vector<std::string> inputs(args.begin() + 3, args.end());
    absl::StatusOr<std::vector<v1::Opportunity>> opportunities;
    if (absl::GetFlag(FLAGS_from_snapshots)) {
      if (!inputs.empty()) {
        return Usage("rules diff: files or --from_snapshots, not both");
      }
      if (!NeedTenant()) return kExitUsage;
      absl::StatusOr<std::unique_ptr<AsyncRedis>> redis = RedisFromFlags();
      if (!redis.ok()) return Usage(std::string(redis.status().message()));
      opportunities =
          TenantOpportunities(redis->get(), absl::GetFlag(FLAGS_tenant));
      if (!opportunities.ok()) return Fail(opportunities.status());
    } else {
      if (inputs.empty()) inputs.push_back("-");
      opportunities = ReadOpportunities(inputs);
      if (!opportunities.ok()) {
        return Usage(std::string(opportunities.status().message()));
      }
    }
    const int max_listed = std::max(0, absl::GetFlag(FLAGS_max_listed));
    RulesDiff diff = DiffRulesets(*std::get<0>(before), *std::get<0>(after),
                                  *opportunities, absl::Now());
    std::cout << (absl::GetFlag(FLAGS_json)
                      ? FormatJson(RulesDiffToStruct(diff, max_listed)) + "\n"
                      : FormatRulesDiff(diff, max_listed));
    return kExitOk;
  }
  return Usage(
      "usage: oppctl rules check FILE | oppctl rules diff OLD NEW "
      "[OPPORTUNITIES...]");
}

// `whatif`: what would move one opportunity into --to.
int WhatIf(const std::vector<std::string>& args) {
  if (args.size() > 1) {
    return Usage(
        "usage: oppctl whatif [FILE|-] --to=CELL | oppctl --tenant=T whatif "
        "ID --to=CELL --from_snapshots");
  }
  v1::WhatIfRequest request;
  request.set_target_cell(absl::GetFlag(FLAGS_to));
  if (request.target_cell().empty()) return Usage("whatif: --to is required");
  for (const std::string& name : absl::GetFlag(FLAGS_levers)) {
    if (name.empty()) return Usage("--levers: an empty lever name");
    v1::Lever lever = v1::LEVER_UNSPECIFIED;
    if (!ParseEnumFlag(v1::Lever_descriptor(), "levers", name, &lever)) {
      return kExitUsage;
    }
    request.add_levers(lever);
  }
  request.set_max_options(absl::GetFlag(FLAGS_max_options));
  const std::string input = args.empty() ? "-" : args[0];
  if (absl::GetFlag(FLAGS_from_snapshots)) {
    if (args.empty())
      return Usage("whatif --from_snapshots: the ID is required");
    if (!NeedTenant()) return kExitUsage;
    absl::StatusOr<std::unique_ptr<AsyncRedis>> redis = RedisFromFlags();
    if (!redis.ok()) return Usage(std::string(redis.status().message()));
    RedisSnapshotStore store(redis->get(), {});
    absl::StatusOr<SnapshotStore::Snapshots> got =
        store.Get({{absl::GetFlag(FLAGS_tenant), input}},
                  absl::Now() + absl::GetFlag(FLAGS_timeout));
    if (!got.ok()) return Fail(got.status());
    const std::optional<v1::OpportunitySnapshot>& s = got->front();
    if (!s.has_value() || s->deleted() || s->awaiting_full()) {
      return Fail(absl::NotFoundError(absl::StrCat(
          "no snapshot of ", input, " in tenant ", absl::GetFlag(FLAGS_tenant),
          s.has_value() && s->deleted() ? " (deleted)" : "")));
    }
    *request.mutable_opportunity() = s->opportunity();
  } else {
    absl::StatusOr<std::string> text = ReadInput(input);
    if (!text.ok()) return Usage(std::string(text.status().message()));
    absl::StatusOr<v1::Opportunity> opportunity = ParseOpportunity(
        *text, absl::GetFlag(FLAGS_format), input == "-" ? "<stdin>" : input);
    if (!opportunity.ok()) {
      return Usage(std::string(opportunity.status().message()));
    }
    *request.mutable_opportunity() = *std::move(opportunity);
  }
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client = NewClient();
  if (!client.ok()) return BadConnection(client.status());
  absl::StatusOr<v1::WhatIfResponse> response = (*client)->WhatIf(request);
  if (!response.ok()) return Fail(response.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? FormatJson(*response) + "\n"
                                          : FormatWhatIf(*response));
  return kExitOk;
}

struct Command {
  const char* name;
  const char* synopsis;  // after "oppctl [flags] "
  const char* description;
  std::vector<const char*> flags;  // beyond the connection flags
  int (*run)(const std::vector<std::string>&);
};

// The flags every command has: --target, --timeout, --json and the
// client library's connection flags (from the flag registry).
std::vector<std::string> ConnectionFlags() {
  std::vector<std::string> flags = {"target", "timeout"};
  for (std::string& name : ConnectionFlagNames()) {
    flags.push_back(std::move(name));
  }
  flags.push_back("json");
  return flags;
}

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"classify",
       "classify [FILE...|-]",
       "Classifies opportunities. One FILE (JSON or YAML; stdin when - or "
       "absent) prints its classification; several go in one BatchClassify "
       "and print the matrix they make; JSONL or CSV (--format, or a .jsonl "
       "or .csv file; CSV has a header row of field paths such as id, "
       "tenant_id, stage, account.industry, amount as \"60000 EUR\") is "
       "classified --batch_size at a time with a summary.",
       {"format", "batch_size", "no_reasons"},
       Classify},
      {"get",
       "--tenant=T get ID",
       "The stored classification of ID.",
       {"tenant"},
       Get},
      {"history",
       "--tenant=T history ID",
       "The states ID's stored result has been in (GetHistory), newest "
       "first: time, cell, grade, scores, ruleset version, opportunity "
       "version and what caused the change (first, data, ruleset, time, "
       "override), "
       "with the trend they make.",
       {"tenant"},
       History},
      {"explain",
       "--tenant=T explain ID [--entries=TO[,FROM]]",
       "Why ID's classification changed (Explain): by default between its "
       "newest state and the one before, or between history entries TO and "
       "FROM (0 = newest, as `history` numbers them from the top). Prints "
       "the causes, the input fields that changed, what moved each score, "
       "and every factor's contribution before and after.",
       {"tenant", "entries"},
       Explain},
      {"pin",
       "--tenant=T pin ID --cell=C --reason=TEXT --until=TIME|DURATION",
       "Pins ID to a cell whatever its scores (PinOpportunity), with a "
       "reason, an author (--author, default $USER) and an expiry: the "
       "stored result moves there at once and stays through new data and "
       "rescores, which keep reporting the cell the rules give, until the "
       "pin ends by itself or is removed.",
       {"tenant", "cell", "reason", "until", "author"},
       Pin},
      {"unpin",
       "--tenant=T unpin ID",
       "Removes ID's pin: its result goes back to the cell the rules give.",
       {"tenant"},
       Unpin},
      {"account",
       "--tenant=T account ID",
       "An account's position on the matrix (GetAccount): the cell its open "
       "opportunities put it in, by the ruleset's account.aggregation "
       "(amount-weighted by default), their scores, count and amount, and "
       "each open opportunity.",
       {"tenant"},
       Account},
      {"list",
       "--tenant=T list --cell=KEY",
       "A cell's opportunities, highest priority first, one page at a time.",
       {"tenant", "cell", "page_size", "page_token", "all"},
       List},
      {"matrix",
       "--tenant=T matrix [--svg=FILE]",
       "The stored matrix: per cell its count, total amount, action and top "
       "opportunities; a boxed grid on a terminal, plain text otherwise. "
       "--svg also draws it as a picture: the potential x relationship "
       "plane, the cells, and each opportunity as a dot sized by amount.",
       {"tenant", "top", "customer_type", "industry", "stage", "style", "svg",
        "svg_max_points"},
       Matrix},
      {"transitions",
       "--tenant=T transitions",
       "Recent cell moves, newest first, one page at a time.",
       {"tenant", "page_size", "page_token", "all"},
       Transitions},
      {"watch",
       "--tenant=T watch",
       "The latest cell moves, then each new one as it happens, until "
       "interrupted.",
       {"tenant", "interval", "max_moves"},
       Watch},
      {"generate",
       "--tenant=T generate",
       "Generated opportunities as JSONL, for classify --format=jsonl: the "
       "same --seed gives the same opportunities, with their dates relative "
       "to now. Needs no server.",
       {"tenant", "count", "seed"},
       Generate},
      {"rules",
       "rules check FILE | rules diff OLD NEW [OPPORTUNITIES...|-] | "
       "--tenant=T rules diff OLD NEW --from_snapshots | --tenant=T rules "
       "upload FILE|preview VERSION|publish VERSION|rollback|list|show "
       "VERSION|status",
       "upload, preview, publish, rollback, list, show: --tenant's own "
       "rulesets, kept by the classifier (RulesetService): upload validates "
       "a ruleset file and keeps it as a version (not in force); preview "
       "tells what publishing it would move among the tenant's stored "
       "results (the from -> to counts and amounts, then the moved "
       "opportunities, at most --max_listed); publish puts it in force; "
       "rollback puts back what was in force before (at last the file "
       "default); both start a rescore of the tenant's stored results in "
       "the background, which status shows (--wait: until it is done); "
       "list shows the versions and who published what when; show prints a "
       "version's YAML. --author (default $USER) is recorded. "
       "check: validates a ruleset file and prints its version. diff: "
       "classifies the opportunities (JSONL, CSV, or JSON/YAML files) with "
       "both rulesets and tells what the new one would move, e.g. \"312 "
       "opportunities change cell, 40 KEY->DEVELOP\". Both run locally, "
       "without a server; with --from_snapshots the opportunities are "
       "--tenant's live ones, read from the ingestion service's snapshots in "
       "--redis.",
       {"max_listed", "from_snapshots", "tenant", "redis", "author", "wait"},
       Rules},
      {"whatif",
       "whatif [FILE|-] --to=CELL | --tenant=T whatif ID --to=CELL "
       "--from_snapshots",
       "What would move an opportunity into the cell --to (WhatIf): the "
       "smallest changes of what the sales team can influence (meetings, "
       "contacts, champion, executive sponsor, stage) that land it there "
       "under the classifier's ruleset, fewest changes first, each with the "
       "scores it would give. The opportunity is a JSON or YAML file, or with "
       "--from_snapshots --tenant's live opportunity ID (the ingestion "
       "service's snapshot in --redis). Nothing is stored.",
       {"to", "levers", "max_options", "format", "from_snapshots", "tenant",
        "redis"},
       WhatIf},
      {"import",
       "--tenant=T import FILE --from=CRM|--mapping=FILE",
       "A CRM's own CSV export onto the event bus through the ingestion "
       "service's PushEvents: --from=salesforce, hubspot, dynamics, odoo or "
       "pipedrive for their standard opportunity (deal) export, or "
       "--mapping=FILE (YAML: columns, version, date_formats, currency, "
       "values, scales). Dates and amounts as the exports write them. Ends "
       "with rows read, events pushed, and the rows rejected and values left "
       "out, grouped by reason with their line numbers. Exit 1 when a row "
       "was rejected.",
       {"tenant", "from", "mapping", "currency", "ingestion"},
       Import},
      {"status",
       "status",
       "The ingestion pipeline's figures (GetStatus): lag, pending, "
       "processed, dead-lettered, errors and the last error.",
       {"ingestion"},
       Status},
      {"dlq",
       "dlq list | dlq summary | dlq replay ID...|--all",
       "Dead-lettered CRM events with their reason; summary groups them by "
       "reason (count, first and last time, an example to replay); replay "
       "puts them back on the event stream. Through the ingestion service's "
       "RPCs (ListDeadLetters, SummarizeDeadLetters, ReplayDeadLetters).",
       {"ingestion", "count", "page_token", "all", "max_entries"},
       Dlq},
  };
  return *commands;
}

// "  --name=default  help" lines for the named flags.
template <typename Name>
std::string FlagLines(const std::vector<Name>& names) {
  std::string out;
  for (const Name& name : names) {
    absl::StrAppend(&out, FlagHelpLines(name, EnvNameForFlag(name)));
  }
  return out;
}

std::string CommandHelp(const Command& c) {
  return absl::StrCat("usage: oppctl [flags] ", c.synopsis, "\n\n",
                      c.description, "\n\nflags:\n", FlagLines(c.flags),
                      "\nconnection flags:\n", FlagLines(ConnectionFlags()),
                      "\n", kExitCodes);
}

std::string GeneralHelp() {
  std::string out = "oppctl: the oppmatrix command-line tool.\n\ncommands:\n";
  for (const Command& c : Commands()) {
    absl::StrAppendFormat(&out, "  %-12s %s\n", c.name, c.synopsis);
  }
  absl::StrAppend(&out,
                  "\n`oppctl help COMMAND` or `oppctl COMMAND --help` "
                  "describes a command and its flags.\n\nconnection flags:\n",
                  FlagLines(ConnectionFlags()), "\n", kExitCodes);
  return out;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

}  // namespace
}  // namespace oppmatrix

int main(int argc, char** argv) {
  using oppmatrix::Commands;
  using oppmatrix::FindCommand;
  // Help before flag parsing: `oppctl [COMMAND] --help`, `oppctl help [C]`.
  const oppmatrix::Command* named = nullptr;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (a == "--help" || a == "-h" || a == "-help" || a == "--help=true") {
      help = true;
    } else if (named == nullptr && !absl::StartsWith(a, "-")) {
      named = FindCommand(a);
      if (a == "help") {
        help = true;
        if (i + 1 < argc) named = FindCommand(argv[i + 1]);
        if (i + 1 < argc && named == nullptr) {
          std::fprintf(stderr, "unknown command \"%s\"\n", argv[i + 1]);
          return oppmatrix::kExitUsage;
        }
        break;
      }
    }
  }
  if (help) {
    std::cout << (named != nullptr ? oppmatrix::CommandHelp(*named)
                                   : oppmatrix::GeneralHelp());
    return oppmatrix::kExitOk;
  }
  std::vector<char*> positional =
      oppmatrix::ParseFlagsWithEnv(argc, argv, "oppctl: see `oppctl help`");
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (args.empty()) {
    std::fprintf(stderr, "%s", oppmatrix::GeneralHelp().c_str());
    return oppmatrix::kExitUsage;
  }
  const oppmatrix::Command* command = FindCommand(args[0]);
  if (command == nullptr) {
    std::fprintf(stderr, "unknown command \"%s\"; `oppctl help` lists them\n",
                 args[0].c_str());
    return oppmatrix::kExitUsage;
  }
  args.erase(args.begin());
  return command->run(args);
}
