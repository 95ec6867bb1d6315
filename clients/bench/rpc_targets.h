// The RPCs oppmatrix-bench measures, as RpcTargets over one channel of a
// ClassificationClient. Every call's context comes from
// ClassificationClient::NewContext(), so deadlines, TLS and the token are
// the client's.
//
//   health    grpc.health.v1.Health/Check: the null RPC of the server
//   classify  Classify, one opportunity
//   batch     BatchClassify, batch_size opportunities
//   stream    ClassifyStream: requests pipelined on `streams` bidi streams
//   get       GetClassification of opportunities classified in Prepare()
//
//   OpportunitySource source(GeneratePool("bench", 1, 1000), VersionBase());
//   std::unique_ptr<RpcTarget> t =
//       MakeRpcTarget(Rpc::kClassify, *client, &source, {});
#ifndef OPPMATRIX_CLIENTS_BENCH_RPC_TARGETS_H_
#define OPPMATRIX_CLIENTS_BENCH_RPC_TARGETS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/bench/load_generator.h"
#include "clients/cpp/classification_client.h"
#include "oppmatrix/v1/opportunity.pb.h"

namespace oppmatrix {

enum class Rpc { kHealth, kClassify, kBatch, kStream, kGet };

// "health", "classify", "batch", "stream", "get".
absl::string_view RpcName(Rpc rpc);

// The RPCs of --rpc, in the order they run: "all" is every one; any other
// name is the health baseline followed by that RPC ("health" alone is
// just health). INVALID_ARGUMENT for an unknown name.
absl::StatusOr<std::vector<Rpc>> ParseRpcs(absl::string_view flag);

// `count` generated opportunities of `tenant`, deterministic in `seed`.
std::vector<v1::Opportunity> GeneratePool(const std::string& tenant,
                                          uint64_t seed, int count);

// The opportunities the classifying targets send, shared by all of them
// so that each request carries a version newer than any sent before:
// request g is pool[g % size] with version version_base + g / size. With a
// version base from the clock, a later run's results are newer still, so
// every result is scored and stored, never served from the cache.
class OpportunitySource {
 public:
  OpportunitySource(std::vector<v1::Opportunity> pool, int64_t version_base);

  // Thread-safe.
  void Next(v1::Opportunity* out);
  const std::vector<v1::Opportunity>& pool() const { return pool_; }

 private:
  const std::vector<v1::Opportunity> pool_;
  const int64_t version_base_;
  std::atomic<int64_t> next_{0};
};

// Microseconds since the epoch: a version base newer than earlier runs'.
int64_t VersionBaseFromClock();

struct TargetOptions {
  // Deadline of each unary call.
  absl::Duration timeout = absl::Seconds(5);
  // Deadline of each stream (it must outlive the run).
  absl::Duration stream_timeout = absl::Hours(1);
  int batch_size = 100;
  int streams = 4;
  bool with_reasons = true;
};

// The target of `rpc`. `client` and `source` must outlive it.
std::unique_ptr<RpcTarget> MakeRpcTarget(Rpc rpc,
                                         const ClassificationClient& client,
                                         OpportunitySource* source,
                                         const TargetOptions& options);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_BENCH_RPC_TARGETS_H_
