// oppmatrix-bench: closed- or open-loop load on the classifier's RPCs, with
// QPS, latency percentiles and errors per RPC, each compared with the
// health check (the null RPC) of the same server, as a table or JSON.
//
//   oppmatrix-bench --target=127.0.0.1:50051 --rpc=all --duration=5s
//   oppmatrix-bench --rpc=classify --rate=2000 --duration=10s --json
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "clients/bench/bench_report.h"
#include "clients/bench/bench_runner.h"
#include "clients/cpp/classification_client.h"
#include "clients/cpp/connection_flags.h"
#include "services/common/env_flags.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "The classifier");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline per call");
ABSL_FLAG(std::string, rpc, "all",
          "classify, batch, stream, get, health, or all (each in turn); the "
          "health check always runs first as the baseline");
ABSL_FLAG(int, concurrency, 16, "Closed loop: calls outstanding");
ABSL_FLAG(double, rate, 0,
          "Open loop: calls started per second (latency from each call's "
          "scheduled time); 0 for a closed loop");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5),
          "Measured load per RPC (0 with --requests: no time limit)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "Unmeasured load before each RPC's measurement");
ABSL_FLAG(int64_t, requests, 0,
          "Stop each RPC after this many calls (0: no limit)");
ABSL_FLAG(int, batch_size, 100, "batch: opportunities per BatchClassify");
ABSL_FLAG(int, streams, 4,
          "stream: ClassifyStream calls the requests are spread over");
ABSL_FLAG(int64_t, max_outstanding, 10000,
          "Open loop: calls outstanding beyond which sends are dropped");
ABSL_FLAG(std::string, tenant, "bench", "Tenant of the opportunities");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the generated opportunities");
ABSL_FLAG(int, opportunities, 1000,
          "Distinct generated opportunities (each call sends a new version)");
ABSL_FLAG(bool, no_reasons, false, "Ask for results without reasons");
ABSL_FLAG(bool, json, false, "Print the report as one JSON object");

namespace oppmatrix {
namespace {

int Usage(const std::string& message) {
  std::fprintf(stderr, "oppmatrix-bench: %s\n", message.c_str());
  return 2;
}

int Run() {
  BenchOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.rpc = absl::GetFlag(FLAGS_rpc);
  options.load.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.load.rate = absl::GetFlag(FLAGS_rate);
  options.load.duration = absl::GetFlag(FLAGS_duration);
  options.load.max_requests = absl::GetFlag(FLAGS_requests);
  options.load.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.calls.timeout = absl::GetFlag(FLAGS_timeout);
  options.calls.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.calls.streams = absl::GetFlag(FLAGS_streams);
  options.calls.with_reasons = !absl::GetFlag(FLAGS_no_reasons);
  options.tenant = absl::GetFlag(FLAGS_tenant);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.opportunities = absl::GetFlag(FLAGS_opportunities);
  if (absl::Status s = ValidateBenchOptions(options); !s.ok()) {
    return Usage(std::string(s.message()));
  }

  absl::StatusOr<ClientOptions> connection =
      ConnectionOptionsFromFlags(options.target, options.calls.timeout);
  if (!connection.ok())
    return Usage(std::string(connection.status().message()));
  ClientOptions client_options = *std::move(connection);
  // A benchmark counts failures instead of hiding them behind retries.
  client_options.max_attempts = 1;
  absl::StatusOr<std::unique_ptr<ClassificationClient>> client =
      ClassificationClient::Create(client_options);
  if (!client.ok()) return Usage(std::string(client.status().message()));

  absl::StatusOr<BenchReport> report =
      RunBench(**client, options, [](const RpcReport& r) {
        std::fprintf(stderr, "%s: %lld calls, %lld errors%s\n",
                     std::string(RpcName(r.rpc)).c_str(),
                     static_cast<long long>(r.result.requests),
                     static_cast<long long>(r.result.error_count()),
                     r.skipped.empty()
                         ? ""
                         : (" (not measured: " + r.skipped + ")").c_str());
      });
  if (!report.ok()) return Usage(std::string(report.status().message()));
  if (absl::GetFlag(FLAGS_json)) {
    absl::StatusOr<std::string> json = ReportToJson(*report);
    if (!json.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(json.status().message()).c_str());
      return 1;
    }
    std::printf("%s\n", json->c_str());
  } else {
    std::printf("%s", FormatReportTable(*report).c_str());
  }
  // Calls that all failed (server unreachable, ...) are a failed run.
  for (const RpcReport& r : report->rpcs) {
    if (r.skipped.empty() && r.result.ok == 0) return 3;
  }
  return 0;
}

}  // namespace
}  // namespace oppmatrix

int main(int argc, char** argv) {
  // The bench's own flags are OPPMATRIX_BENCH_<NAME>: an OPPMATRIX_TENANT
  // set for oppctl must not send the bench's writes into a real tenant.
  std::vector<char*> rest = oppmatrix::ParseFlagsWithEnv(
      argc, argv,
      "oppmatrix-bench: load on the classifier's RPCs, compared with its "
      "health check.\n"
      "  oppmatrix-bench --target=HOST:PORT --rpc=all --duration=5s\n"
      "--target, --timeout, --tls* and --token* can also be set as "
      "OPPMATRIX_<FLAG>, the others as OPPMATRIX_BENCH_<FLAG>.",
      {.tool_flag = "rpc",
       .tool_prefix = "OPPMATRIX_BENCH_",
       .shared_tool_flags = {"target", "timeout"}});
  if (rest.size() > 1) {
    std::fprintf(stderr, "oppmatrix-bench: unexpected argument %s\n", rest[1]);
    return 2;
  }
  return oppmatrix::Run();
}
