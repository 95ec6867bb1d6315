// End-to-end BatchClassify throughput of the classifier with its Redis
// result store: a real redis-server (no persistence) on a loopback port, the
// gRPC server in this process, the C++ client over loopback. Batches of 500
// generated opportunities (the size is the benchmark argument):
//
//   BM_BatchStored      new content every time: score, store, index
//   BM_BatchStoredTenants  the stored batch of 500 over 10 or 100 tenants
//   BM_BatchCached      unchanged content and ruleset: already current
//                       in Redis, nothing written
//   BM_BatchNoStore     the same without Redis (the cost of the RPC alone)
//   BM_BatchMoving      new scores every time (the meetings change), so
//                       each write adds a history state (10 kept)
//   BM_BatchMovingNoHistory  the same with --history_length=0
//
// Items per second is opportunities per second; redis_us_per_result is
// the time Redis spent in the store's scripts per result (INFO
// commandstats). Both processes share the machine's cores, as a sidecar
// deployment would.
//
//   build/bench/oppmatrix-store-bench --benchmark_min_time=2
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "clients/cpp/classification_client.h"
#include "clients/sim/opportunity_generator.h"
#include "services/classifier/classifier_server.h"
#include "services/engine/engine.h"
#include "services/engine/ruleset.h"
#include "services/store/async_redis.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_url.h"
#include "tests/testing/redis_server.h"

namespace oppmatrix {
namespace {

constexpr char kDefaultRules[] = OPPMATRIX_SOURCE_DIR "/rules/default.yaml";

// One redis-server and two classifiers (stored, unstored) for all
// benchmarks.
struct Fixture {
  testing::RedisServer redis;
  std::unique_ptr<AsyncRedis> async;
  std::unique_ptr<RedisResultStore> store;
  std::unique_ptr<StaticRulesetSource> rules;
  std::unique_ptr<ClassifierServer> stored_server;
  std::unique_ptr<ClassifierServer> plain_server;
  std::unique_ptr<RedisResultStore> no_history_store;
  std::unique_ptr<ClassifierServer> no_history_server;
  std::unique_ptr<ClassificationClient> stored;
  std::unique_ptr<ClassificationClient> plain;
  std::unique_ptr<ClassificationClient> no_history;

  Fixture() {
    if (absl::Status s = redis.Start(); !s.ok()) Die(s);
    // As the classifier's main wires it: one asynchronous connection.
    auto created =
        AsyncRedis::Create({.endpoint = *ParseRedisUrl(redis.url())});
    if (!created.ok()) Die(created.status());
    async = *std::move(created);
    store = std::make_unique<RedisResultStore>(async.get(),
                                               RedisResultStore::Options{});
    auto loaded = LoadRulesetFile(kDefaultRules);
    if (!loaded.ok()) Die(loaded.status());
    rules = std::make_unique<StaticRulesetSource>(*loaded);
    stored_server = Start(store.get());
    plain_server = Start(nullptr);
    no_history_store = std::make_unique<RedisResultStore>(
        async.get(), RedisResultStore::Options{.history_length = 0});
    no_history_server = Start(no_history_store.get());
    stored = Client(*stored_server);
    plain = Client(*plain_server);
    no_history = Client(*no_history_server);
  }

  static void Die(const absl::Status& s) {
    std::fprintf(stderr, "store bench: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }

  std::unique_ptr<ClassifierServer> Start(ResultStore* s) {
    ClassifierServer::Options options;
    options.listen = "127.0.0.1:0";
    auto server = ClassifierServer::Start(options, rules.get(), s);
    if (!server.ok()) Die(server.status());
    return *std::move(server);
  }

  static std::unique_ptr<ClassificationClient> Client(ClassifierServer& s) {
    ClientOptions options;
    options.target = absl::StrCat("127.0.0.1:", s.port());
    options.timeout = absl::Seconds(30);
    auto client = ClassificationClient::Create(options);
    if (!client.ok()) Die(client.status());
    return *std::move(client);
  }
};

std::unique_ptr<Fixture>& SharedPtr() {
  static auto* fixture = new std::unique_ptr<Fixture>();
  return *fixture;
}

Fixture& Shared() {
  if (!SharedPtr()) SharedPtr() = std::make_unique<Fixture>();
  return *SharedPtr();
}

std::vector<v1::Opportunity> Batch(int size, const std::string& tenant) {
  OpportunityGenerator gen({.tenant_id = tenant, .seed = 7}, absl::Now());
  std::vector<v1::Opportunity> batch;
  for (int i = 0; i < size; ++i) batch.push_back(gen.Next());
  return batch;
}

// Microseconds Redis spent in the store's scripts so far (INFO
// commandstats: every EVALSHA, with the commands it called).
double RedisScriptMicros() {
  absl::StatusOr<int64_t> usec =
      Shared().redis.InfoValue("commandstats", "cmdstat_evalsha:usec");
  return usec.ok() ? static_cast<double>(*usec) : 0;
}

void Run(benchmark::State& state, ClassificationClient& client,
         std::vector<v1::Opportunity>& batch, bool change_each_time,
         bool move_each_time = false) {
  // Versions only grow, across the repeated runs the library makes: an
  // older version would not be stored (superseded).
  static int64_t version = 1;
  int64_t not_stored = 0;
  const double redis_before = RedisScriptMicros();
  for (auto _ : state) {
    if (change_each_time) {
      ++version;
      for (v1::Opportunity& o : batch) {
        o.set_version(version);
        if (move_each_time) {
          o.mutable_relationship()->set_meetings_last_90_days(
              static_cast<int32_t>(version % 7));
        }
      }
    }
    auto results = client.BatchClassify(batch);
    if (!results.ok()) {
      state.SkipWithError(std::string(results.status().message()).c_str());
      return;
    }
    for (const auto& r : *results) not_stored += !r.stored();
  }
  state.SetItemsProcessed(state.iterations() * batch.size());
  state.counters["not_stored"] = static_cast<double>(not_stored);
  state.counters["redis_us_per_result"] =
      (RedisScriptMicros() - redis_before) /
      static_cast<double>(state.iterations() * batch.size());
}

void BM_BatchStored(benchmark::State& state) {
  auto batch = Batch(static_cast<int>(state.range(0)),
                     absl::StrCat("bench-stored-", state.range(0)));
  Run(state, *Shared().stored, batch, /*change_each_time=*/true);
}
BENCHMARK(BM_BatchStored)->Arg(500)->Arg(100)->UseRealTime();

// The same batch spread over `range(0)` tenants: one script call each.
void BM_BatchStoredTenants(benchmark::State& state) {
  const int tenants = static_cast<int>(state.range(0));
  auto batch = Batch(500, "bench-tenants");
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].set_tenant_id(absl::StrCat("bench-t", tenants, "-", i % tenants));
  }
  Run(state, *Shared().stored, batch, /*change_each_time=*/true);
}
BENCHMARK(BM_BatchStoredTenants)->Arg(10)->Arg(100)->UseRealTime();

void BM_BatchCached(benchmark::State& state) {
  auto batch = Batch(static_cast<int>(state.range(0)), "bench-cached");
  (void)Shared().stored->BatchClassify(batch);  // stored once
  Run(state, *Shared().stored, batch, /*change_each_time=*/false);
}
BENCHMARK(BM_BatchCached)->Arg(500)->UseRealTime();

// Every write a new state: the history's worst case, with and without it.
void BM_BatchMoving(benchmark::State& state) {
  auto batch = Batch(500, "bench-moving");
  Run(state, *Shared().stored, batch, true, /*move_each_time=*/true);
}
BENCHMARK(BM_BatchMoving)->UseRealTime();

void BM_BatchMovingNoHistory(benchmark::State& state) {
  auto batch = Batch(500, "bench-moving-nohistory");
  Run(state, *Shared().no_history, batch, true, /*move_each_time=*/true);
}
BENCHMARK(BM_BatchMovingNoHistory)->UseRealTime();

void BM_BatchNoStore(benchmark::State& state) {
  auto batch = Batch(static_cast<int>(state.range(0)), "bench-plain");
  Run(state, *Shared().plain, batch, /*change_each_time=*/true);
}
BENCHMARK(BM_BatchNoStore)->Arg(500)->UseRealTime();

// The store alone, without gRPC or scoring: one Put of `n` results (one
// script call per 200 results), changed each time, and one of `n` results
// already current (nothing written).
void BM_StorePut(benchmark::State& state) {
  Fixture& f = Shared();
  auto batch = Batch(static_cast<int>(state.range(0)), "bench-put");
  auto rules = f.rules->Current();
  std::vector<v1::Classification> results;
  for (const auto& o : batch) {
    results.push_back(*Classify(o, *rules, absl::Now(), {}));
  }
  int64_t n = 0;
  for (auto _ : state) {
    std::vector<PutItem> items;
    for (v1::Classification& c : results) {
      c.set_priority_score(static_cast<double>(++n % 100));
      items.push_back({&c, "fp", true});
    }
    auto out = f.store->Put(items, {.now = absl::Now()},
                            absl::Now() + absl::Seconds(30));
    if (!out.ok()) {
      state.SkipWithError(std::string(out.status().message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * results.size());
}
BENCHMARK(BM_StorePut)->Arg(500)->UseRealTime();

void BM_StorePutCurrent(benchmark::State& state) {
  Fixture& f = Shared();
  auto batch = Batch(static_cast<int>(state.range(0)), "bench-current");
  auto rules = f.rules->Current();
  std::vector<v1::Classification> results;
  std::vector<PutItem> items;
  for (const auto& o : batch) {
    results.push_back(*Classify(o, *rules, absl::Now(), {}));
  }
  for (v1::Classification& c : results) items.push_back({&c, "fp", true});
  const PutOptions options{.now = absl::Now(),
                           .keep_current_since = absl::InfinitePast()};
  (void)f.store->Put(items, options, absl::Now() + absl::Seconds(30));
  for (auto _ : state) {
    auto out = f.store->Put(items, options, absl::Now() + absl::Seconds(30));
    if (!out.ok()) {
      state.SkipWithError(std::string(out.status().message()).c_str());
      return;
    }
    if (!(*out)[0].current) {
      state.SkipWithError("the stored results were not current");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * results.size());
}
BENCHMARK(BM_StorePutCurrent)->Arg(500)->UseRealTime();

}  // namespace

// For main(): the fixture outlives the benchmarks, not the process.
void StopSharedFixture() { SharedPtr().reset(); }

}  // namespace oppmatrix

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Stops the servers and the redis-server before exit.
  oppmatrix::StopSharedFixture();
  return 0;
}
