// One oppmatrix-bench run: each RPC of --rpc in turn, with the same load,
// after a warm-up, against one server; the health check (the null RPC)
// first, as the baseline the others are compared with.
//
//   BenchOptions options;
//   options.rpc = "all";
//   options.load.duration = absl::Seconds(5);
//   absl::StatusOr<BenchReport> report = RunBench(*client, options);
//   std::cout << FormatReportTable(*report);
#ifndef OPPMATRIX_CLIENTS_BENCH_BENCH_RUNNER_H_
#define OPPMATRIX_CLIENTS_BENCH_BENCH_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/bench/load_generator.h"
#include "clients/bench/rpc_targets.h"
#include "clients/cpp/classification_client.h"

namespace oppmatrix {

struct BenchOptions {
  // The server's address, for the report.
  std::string target;
  // classify, batch, stream, get, health or all (see ParseRpcs).
  std::string rpc = "all";
  // The load of each RPC; its duration and max_requests are per RPC.
  LoadShape load;
  // Load before each RPC's measurement, not measured.
  absl::Duration warmup = absl::Seconds(1);
  // Deadlines, batch size, streams, reasons.
  TargetOptions calls;
  // The generated opportunities: tenant, seed and how many distinct ones.
  std::string tenant = "bench";
  uint64_t seed = 1;
  int opportunities = 1000;
};

// INVALID_ARGUMENT naming the first bad option (as its flag).
absl::Status ValidateBenchOptions(const BenchOptions& options);

struct RpcReport {
  Rpc rpc;
  // Why the RPC was not measured (its preparation failed); empty when it
  // was.
  std::string skipped;
  PhaseResult result;
};

struct BenchReport {
  BenchOptions options;
  std::vector<RpcReport> rpcs;

  // The report of `rpc`, null when it did not run.
  const RpcReport* Find(Rpc rpc) const;
};

// Runs options.rpc against the client's server; `progress`, when set, sees
// each RPC's report as soon as it is done.
absl::StatusOr<BenchReport> RunBench(
    const ClassificationClient& client, const BenchOptions& options,
    const std::function<void(const RpcReport&)>& progress = nullptr);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_BENCH_BENCH_RUNNER_H_
