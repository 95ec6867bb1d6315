#include "clients/bench/bench_runner.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace oppmatrix {

absl::Status ValidateBenchOptions(const BenchOptions& o) {
  auto bad = [](absl::string_view flag, absl::string_view must) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", must));
  };
  if (absl::Status s = ParseRpcs(o.rpc).status(); !s.ok()) return s;
  if (o.load.rate < 0) return bad("rate", "must not be negative");
  if (o.load.rate == 0 && o.load.concurrency < 1) {
    return bad("concurrency", "must be at least 1");
  }
  if (o.load.max_requests < 0) return bad("requests", "must not be negative");
  if (o.load.duration < absl::ZeroDuration()) {
    return bad("duration", "must not be negative");
  }
  if (o.load.duration == absl::ZeroDuration() && o.load.max_requests == 0) {
    return bad("duration", "must be positive unless --requests is set");
  }
  if (o.load.max_outstanding < 1) {
    return bad("max_outstanding", "must be at least 1");
  }
  if (o.warmup < absl::ZeroDuration()) {
    return bad("warmup", "must not be negative");
  }
  if (o.calls.timeout <= absl::ZeroDuration()) {
    return bad("timeout", "must be positive");
  }
  if (o.calls.batch_size < 1) return bad("batch_size", "must be at least 1");
  if (o.calls.streams < 1) return bad("streams", "must be at least 1");
  if (o.tenant.empty()) return bad("tenant", "must not be empty");
  if (o.opportunities < 1) return bad("opportunities", "must be at least 1");
  return absl::OkStatus();
}

const RpcReport* BenchReport::Find(Rpc rpc) const {
  for (const RpcReport& r : rpcs) {
    if (r.rpc == rpc) return &r;
  }
  return nullptr;
}

absl::StatusOr<BenchReport> RunBench(
    const ClassificationClient& client, const BenchOptions& options,
    const std::function<void(const RpcReport&)>& progress) {
  if (absl::Status s = ValidateBenchOptions(options); !s.ok()) return s;
  absl::StatusOr<std::vector<Rpc>> rpcs = ParseRpcs(options.rpc);
  if (!rpcs.ok()) return rpcs.status();

  // Connection set-up (TCP, TLS) is not part of any RPC's latency. A
  // server that can't be reached shows as errors of every RPC.
  client.channel()->WaitForConnected(
      absl::ToChronoTime(absl::Now() + options.calls.timeout));

  BenchReport report;
  report.options = options;
  OpportunitySource source(
      GeneratePool(options.tenant, options.seed, options.opportunities),
      VersionBaseFromClock());
  TargetOptions calls = options.calls;
  // A stream lives through the warm-up and the run; with no duration
  // (--requests alone) it gets an hour.
  calls.stream_timeout =
      options.load.duration == absl::ZeroDuration() ||
              options.load.duration == absl::InfiniteDuration()
          ? absl::Hours(1)
          : options.warmup + options.load.duration + calls.timeout +
                absl::Minutes(1);

  LoadShape measured = options.load;
  if (measured.duration == absl::ZeroDuration()) {
    measured.duration = absl::InfiniteDuration();
  }
  LoadShape warmup = options.load;
  warmup.duration = options.warmup;
  warmup.max_requests = 0;

  for (Rpc rpc : *rpcs) {
    RpcReport r;
    r.rpc = rpc;
    std::unique_ptr<RpcTarget> target =
        MakeRpcTarget(rpc, client, &source, calls);
    if (absl::Status s = target->Prepare(); !s.ok()) {
      r.skipped = std::string(s.message());
    } else {
      if (options.warmup > absl::ZeroDuration()) RunLoad(*target, warmup);
      r.result = RunLoad(*target, measured);
    }
    target->Finish();
    if (progress) progress(r);
    report.rpcs.push_back(std::move(r));
  }
  return report;
}

}  // namespace oppmatrix
