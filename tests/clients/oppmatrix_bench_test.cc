// oppmatrix-bench against a real classifier (in this process, with a
// redis-server for the stored results GetClassification reads): every RPC
// for a fixed number of calls, the reports, and the executable's flags.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "clients/bench/bench_report.h"
#include "clients/bench/bench_runner.h"
#include "clients/bench/load_generator.h"
#include "clients/bench/rpc_targets.h"
#include "clients/cpp/classification_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/store/redis_result_store.h"
#include "services/store/redis_url.h"
#include "tests/classifier/test_server.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace oppmatrix {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Subprocess;
using testing::TestClassifier;

constexpr char kBench[] = OPPMATRIX_BINARY_DIR "/clients/bench/oppmatrix-bench";

std::unique_ptr<ClassificationClient> ClientFor(const std::string& target) {
  ClientOptions options;
  options.target = target;
  options.max_attempts = 1;
  auto client = ClassificationClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

// `requests` calls per RPC, 4 outstanding, no warm-up, no time limit.
BenchOptions Fixed(const std::string& target, const std::string& rpc,
                   int64_t requests) {
  BenchOptions o;
  o.target = target;
  o.rpc = rpc;
  o.load.concurrency = 4;
  o.load.duration = absl::ZeroDuration();
  o.load.max_requests = requests;
  o.warmup = absl::ZeroDuration();
  o.calls.batch_size = 10;
  o.calls.streams = 2;
  o.opportunities = 50;
  return o;
}

std::vector<std::string> Names(const BenchReport& report) {
  std::vector<std::string> names;
  for (const RpcReport& r : report.rpcs) {
    names.emplace_back(RpcName(r.rpc));
  }
  return names;
}

class BenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    redis_client_ = testing::TestRedisClient(redis_.url());
    store_ = std::make_unique<RedisResultStore>(redis_client_.get(),
                                                RedisResultStore::Options{});
    server_ = std::make_unique<TestClassifier>(1000, store_.get());
    client_ = ClientFor(server_->target());
  }

  testing::RedisServer redis_;
  std::unique_ptr<AsyncRedis> redis_client_;
  std::unique_ptr<RedisResultStore> store_;
  std::unique_ptr<TestClassifier> server_;
  std::unique_ptr<ClassificationClient> client_;
};

TEST_F(BenchTest, EveryRpcRunsExactlyTheRequestedCalls) {
  absl::StatusOr<BenchReport> report =
      RunBench(*client_, Fixed(server_->target(), "all", 40));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(Names(*report),
              ElementsAre("health", "classify", "batch", "stream", "get"));
  for (const RpcReport& r : report->rpcs) {
    SCOPED_TRACE(RpcName(r.rpc));
    EXPECT_EQ(r.skipped, "");
    EXPECT_EQ(r.result.requests, 40);
    EXPECT_EQ(r.result.ok, 40);
    EXPECT_TRUE(r.result.errors.empty());
    EXPECT_EQ(r.result.latency.count, 40);
    EXPECT_GT(r.result.qps(), 0);
    EXPECT_LE(r.result.latency.p50, r.result.latency.p99);
    EXPECT_TRUE(P50RatioToHealth(*report, r).has_value());
    EXPECT_TRUE(QpsRatioToHealth(*report, r).has_value());
  }
  EXPECT_EQ(*P50RatioToHealth(*report, report->rpcs[0]), 1.0);
  EXPECT_EQ(report->Find(Rpc::kClassify)->result.items, 40);
  EXPECT_EQ(report->Find(Rpc::kBatch)->result.items, 400);
  EXPECT_EQ(report->Find(Rpc::kStream)->result.items, 40);
}

TEST_F(BenchTest, OneRpcRunsAfterTheHealthBaseline) {
  absl::StatusOr<BenchReport> report =
      RunBench(*client_, Fixed(server_->target(), "stream", 25));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(Names(*report), ElementsAre("health", "stream"));
  absl::StatusOr<BenchReport> health =
      RunBench(*client_, Fixed(server_->target(), "health", 25));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_THAT(Names(*health), ElementsAre("health"));
}

// A unary call's state, whose context holds a reference to the channel,
// is gone by the time its `done` runs: after the last `done` the run may
// end and its target and channel be destroyed, and a reference released
// later on gRPC's own thread could be the channel's last (issue 10).
TEST_F(BenchTest, UnaryCallsReleaseTheirContextBeforeDone) {
  OpportunitySource source(GeneratePool("bench", 1, 20),
                           VersionBaseFromClock());
  for (Rpc rpc : {Rpc::kHealth, Rpc::kClassify, Rpc::kBatch, Rpc::kGet}) {
    SCOPED_TRACE(RpcName(rpc));
    std::unique_ptr<RpcTarget> target =
        MakeRpcTarget(rpc, *client_, &source, {.batch_size = 3});
    ASSERT_TRUE(target->Prepare().ok());
    // The client's channel and the target's stubs.
    const long idle = client_->channel().use_count();
    absl::Notification done;
    long in_done = 0;
    grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
    target->Start([&](const Outcome& o) {
      in_done = client_->channel().use_count();
      code = o.code;
      done.Notify();
    });
    done.WaitForNotification();
    EXPECT_EQ(code, grpc::StatusCode::OK);
    EXPECT_EQ(in_done, idle);
    target->Finish();
  }
}

TEST_F(BenchTest, StreamsPipelineManyRequests) {
  BenchOptions o = Fixed(server_->target(), "stream", 300);
  o.load.concurrency = 32;
  o.calls.streams = 3;
  absl::StatusOr<BenchReport> report = RunBench(*client_, o);
  ASSERT_TRUE(report.ok()) << report.status();
  const PhaseResult& stream = report->Find(Rpc::kStream)->result;
  EXPECT_EQ(stream.requests, 300);
  EXPECT_EQ(stream.ok, 300);
  EXPECT_EQ(stream.items, 300);
}

TEST_F(BenchTest, ExpiredStreamsAreReplacedAndEveryCallEnds) {
  // Streams whose deadline passes almost at once: calls pending on them
  // fail (DEADLINE_EXCEEDED), new streams take the next calls, and the run
  // still accounts for every call instead of waiting on a dead stream. A
  // call whose replacement stream had broken too before it could be sent
  // fails with UNAVAILABLE (that takes a slow machine: 1 ms is short).
  OpportunitySource source(GeneratePool("bench", 1, 20), 1);
  std::unique_ptr<RpcTarget> target =
      MakeRpcTarget(Rpc::kStream, *client_, &source,
                    {.stream_timeout = absl::Milliseconds(1), .streams = 2});
  ASSERT_TRUE(target->Prepare().ok());
  PhaseResult r = RunLoad(*target, {.concurrency = 4,
                                    .duration = absl::InfiniteDuration(),
                                    .max_requests = 60});
  target->Finish();
  EXPECT_EQ(r.requests, 60);
  EXPECT_EQ(r.ok + r.error_count(), 60);
  for (const auto& [code, n] : r.errors) {
    EXPECT_TRUE(code == grpc::StatusCode::DEADLINE_EXCEEDED ||
                code == grpc::StatusCode::UNAVAILABLE)
        << code << " x" << n;
  }
}

TEST_F(BenchTest, OpenLoopAccountsForEveryScheduledCall) {
  BenchOptions o = Fixed(server_->target(), "all", 30);
  o.load.rate = 5000;
  absl::StatusOr<BenchReport> report = RunBench(*client_, o);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const RpcReport& r : report->rpcs) {
    SCOPED_TRACE(RpcName(r.rpc));
    EXPECT_EQ(r.result.requests + r.result.dropped, 30);
    EXPECT_TRUE(r.result.errors.empty());
    EXPECT_LE(r.result.late, r.result.requests);
  }
}

TEST_F(BenchTest, JsonReportParsesWithEveryField) {
  absl::StatusOr<BenchReport> report =
      RunBench(*client_, Fixed(server_->target(), "all", 20));
  ASSERT_TRUE(report.ok()) << report.status();
  absl::StatusOr<std::string> json = ReportToJson(*report);
  ASSERT_TRUE(json.ok()) << json.status();

  // As the typed message (unknown fields would fail the parse)...
  bench::Report parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &parsed).ok())
      << *json;
  EXPECT_EQ(parsed.target(), server_->target());
  EXPECT_EQ(parsed.load().mode(), "closed");
  EXPECT_EQ(parsed.load().concurrency(), 4u);
  EXPECT_EQ(parsed.load().requests(), 20u);
  ASSERT_EQ(parsed.rpcs_size(), 5);
  const bench::RpcResult& batch = parsed.rpcs(2);
  EXPECT_EQ(batch.rpc(), "batch");
  EXPECT_EQ(batch.requests(), 20u);
  EXPECT_EQ(batch.ok(), 20u);
  EXPECT_EQ(batch.opportunities(), 200u);
  EXPECT_GT(batch.opportunities_per_s(), 0);
  EXPECT_TRUE(batch.errors().empty());
  EXPECT_GT(batch.latency_ms().p50(), 0);
  EXPECT_GE(batch.latency_ms().p99_9(), batch.latency_ms().p99());
  EXPECT_GT(batch.vs_health().p50(), 0);
  EXPECT_GT(batch.vs_health().qps(), 0);

  // ... and as a script sees it: the fields by name, counts as numbers.
  google::protobuf::Struct object;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &object).ok());
  const auto& rpcs = object.fields().at("rpcs").list_value();
  ASSERT_EQ(rpcs.values_size(), 5);
  const auto& health = rpcs.values(0).struct_value().fields();
  EXPECT_EQ(health.at("rpc").string_value(), "health");
  EXPECT_EQ(health.at("requests").number_value(), 20);
  EXPECT_EQ(
      health.at("vs_health").struct_value().fields().at("p50").number_value(),
      1);
  for (const char* field :
       {"ok", "errors", "qps", "seconds", "latency_ms", "late", "dropped"}) {
    EXPECT_TRUE(health.contains(field)) << field;
  }
  for (const char* field : {"p50", "p90", "p99", "p99_9", "max"}) {
    EXPECT_TRUE(health.at("latency_ms").struct_value().fields().contains(field))
        << field;
  }
}

TEST_F(BenchTest, ItemErrorsAreCountedByCode) {
  // A server taking batches of at most 10: every batch of 20 is
  // INVALID_ARGUMENT.
  TestClassifier small(/*max_batch_size=*/10, store_.get());
  auto client = ClientFor(small.target());
  BenchOptions o = Fixed(small.target(), "batch", 5);
  o.calls.batch_size = 20;
  absl::StatusOr<BenchReport> report = RunBench(*client, o);
  ASSERT_TRUE(report.ok()) << report.status();
  const PhaseResult& batch = report->Find(Rpc::kBatch)->result;
  EXPECT_EQ(batch.requests, 5);
  EXPECT_EQ(batch.ok, 0);
  EXPECT_EQ(batch.errors.at(grpc::StatusCode::INVALID_ARGUMENT), 5);
  EXPECT_EQ(batch.latency.count, 5);  // failed calls are timed too
  std::string table = FormatReportTable(*report);
  EXPECT_THAT(table, HasSubstr("batch(20) errors: INVALID_ARGUMENT 5"));
}

TEST_F(BenchTest, TableHasARowPerRpc) {
  absl::StatusOr<BenchReport> report =
      RunBench(*client_, Fixed(server_->target(), "all", 10));
  ASSERT_TRUE(report.ok()) << report.status();
  std::string table = FormatReportTable(*report);
  EXPECT_THAT(table, HasSubstr("closed loop, 4 calls outstanding  10 calls "
                               "per RPC"));
  EXPECT_THAT(table, HasSubstr("p50/health"));
  for (const char* row :
       {"\nhealth ", "\nclassify ", "\nbatch(10) ", "\nstream(2) ", "\nget "}) {
    EXPECT_THAT(table, HasSubstr(row));
  }
  EXPECT_THAT(table, Not(HasSubstr("errors:")));
}

TEST(BenchWithoutStoreTest, GetIsSkippedWithTheReason) {
  TestClassifier server;  // no Redis: results are not stored
  auto client = ClientFor(server.target());
  absl::StatusOr<BenchReport> report =
      RunBench(*client, Fixed(server.target(), "get", 10));
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_THAT(Names(*report), ElementsAre("health", "get"));
  EXPECT_EQ(report->rpcs[0].result.ok, 10);
  EXPECT_THAT(report->rpcs[1].skipped, HasSubstr("stores no results"));
  EXPECT_THAT(FormatReportTable(*report),
              HasSubstr("get: not measured: the server stores no results"));
}

TEST(BenchOptionsTest, BadOptionsNameTheFlag) {
  BenchOptions o;
  EXPECT_TRUE(ValidateBenchOptions(o).ok());
  o.rpc = "ping";
  EXPECT_THAT(ValidateBenchOptions(o).message(), HasSubstr("--rpc"));
  o = {};
  o.load.concurrency = 0;
  EXPECT_EQ(ValidateBenchOptions(o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ValidateBenchOptions(o).message(), HasSubstr("--concurrency"));
  o.load.rate = 100;  // open loop: concurrency is not used
  EXPECT_TRUE(ValidateBenchOptions(o).ok());
  o = {};
  o.load.duration = absl::ZeroDuration();
  EXPECT_THAT(ValidateBenchOptions(o).message(), HasSubstr("--duration"));
  o.load.max_requests = 10;
  EXPECT_TRUE(ValidateBenchOptions(o).ok());
  o = {};
  o.calls.batch_size = 0;
  EXPECT_THAT(ValidateBenchOptions(o).message(), HasSubstr("--batch_size"));
}

TEST(BenchExecutableTest, UsageErrorsExitWithTwo) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--rpc=ping"},
           {"--concurrency=0"},
           {"--concurrency=many"},
           {"--no_such_flag=1"},
           {"--duration=0s"},
           {"--tls_ca_file=/nonexistent/ca.pem"},
           {"--token_file=/nonexistent/token"},
           {"extra-argument"}}) {
    args.insert(args.begin(), kBench);
    Subprocess p(args);
    EXPECT_EQ(p.Wait(absl::Seconds(10)), 2) << args[1];
    EXPECT_THAT(p.Stderr(), HasSubstr("oppmatrix-bench")) << args[1];
  }
  Subprocess env({kBench}, {"OPPMATRIX_BENCH_RATE=fast"});
  EXPECT_EQ(env.Wait(absl::Seconds(10)), 2);
  EXPECT_THAT(env.Stderr(), HasSubstr("OPPMATRIX_BENCH_RATE"));
}

TEST(BenchExecutableTest, PrintsJsonAgainstAServer) {
  TestClassifier server;
  Subprocess p({kBench, "--target=" + server.target(), "--rpc=classify",
                "--requests=15", "--duration=0", "--warmup=0s", "--json"});
  ASSERT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  bench::Report report;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(p.Stdout(), &report).ok())
      << p.Stdout();
  ASSERT_EQ(report.rpcs_size(), 2);
  EXPECT_EQ(report.rpcs(1).rpc(), "classify");
  EXPECT_EQ(report.rpcs(1).ok(), 15u);
  EXPECT_EQ(report.rpcs(1).opportunities(), 15u);
}

TEST(BenchExecutableTest, UnreachableServerExitsWithThree) {
  Subprocess p({kBench,
                absl::StrCat("--target=127.0.0.1:", testing::PickFreePort()),
                "--rpc=health", "--requests=3", "--duration=0", "--warmup=0s",
                "--timeout=2s"});
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 3) << p.Stderr();
  EXPECT_THAT(p.Stdout(), HasSubstr("health errors: UNAVAILABLE 3"));
}

}  // namespace
}  // namespace oppmatrix
