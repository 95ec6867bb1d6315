// oppmatrix-crm-sim: a reproducible stream of CRM events, written to the
// Redis event stream, to the Kafka topic, or through the ingestion service's
// PushEvents.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/sim/crm_simulator.h"
#include "grpcpp/create_channel.h"
#include "oppmatrix/v1/ingestion_service.grpc.pb.h"
#include "services/common/env_flags.h"
#include "services/ingestion/crm_event.h"
#include "services/ingestion/kafka_bus.h"
#include "services/ingestion/kafka_flags.h"
#include "services/ingestion/redis_stream_source.h"
#include "services/store/async_redis.h"
#include "services/store/redis_url.h"

ABSL_FLAG(std::string, mode, "redis",
          "redis: XADD to --stream; kafka: produce to --kafka_topic on "
          "--kafka_brokers; push: PushEvents to --target");
ABSL_FLAG(std::string, redis, "redis://127.0.0.1:6379/0", "Redis (redis mode)");
ABSL_FLAG(std::string, stream, "oppmatrix:crm-events",
          "The event stream (redis mode)");
ABSL_FLAG(std::string, target, "127.0.0.1:50052",
          "The ingestion service (push mode)");
ABSL_FLAG(uint64_t, seed, 1, "Random seed: the same seed, the same events");
ABSL_FLAG(int, tenants, 3, "Tenants");
ABSL_FLAG(int, opportunities, 100, "Opportunities created per tenant");
ABSL_FLAG(double, rate, 0, "Events per second; 0 as fast as possible");
ABSL_FLAG(int64_t, max_events, 0,
          "Stop after this many events; 0 runs to "
          "the end of every opportunity");
ABSL_FLAG(int, batch, 100, "Events per write (XADD pipeline or message)");
ABSL_FLAG(std::string, content_type, "json",
          "redis and kafka modes: the events as json, or as protobuf (binary "
          "CrmEvent, content type application/x-protobuf in each entry)");
ABSL_FLAG(double, duplicate_fraction, 0.03, "Fraction of duplicated events");
ABSL_FLAG(double, replay_fraction, 0.03,
          "Fraction of older versions replayed late");
ABSL_FLAG(double, malformed_fraction, 0.01, "Fraction of malformed events");

namespace oppmatrix {
namespace {

// Writes in flight, at most `limit`, and the first one's error.
class WriteWindow {
 public:
  explicit WriteWindow(int limit) : limit_(limit) {}

  // Waits for a free place; the first failed write's error, if any.
  absl::Status Start() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &WriteWindow::HasRoom));
    if (!error_.ok()) return error_;
    ++in_flight_;
    return absl::OkStatus();
  }
  void Done(const absl::Status& s) {
    absl::MutexLock lock(&mu_);
    --in_flight_;
    if (error_.ok()) error_ = s;
  }
  // Waits for every write.
  absl::Status Finish() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &WriteWindow::Idle));
    return error_;
  }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ < limit_;
  }
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ == 0;
  }

  const int limit_;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

int Run(int argc, char** argv) {
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if ((mode != "redis" && mode != "kafka" && mode != "push") ||
      absl::GetFlag(FLAGS_batch) < 1 || absl::GetFlag(FLAGS_tenants) < 1 ||
      absl::GetFlag(FLAGS_rate) < 0) {
    std::fprintf(
        stderr,
        "--mode must be redis, kafka or push, --batch and --tenants at "
        "least 1, --rate not negative\n");
    return 2;
  }
  CrmSimulator sim(
      {.seed = absl::GetFlag(FLAGS_seed),
       .tenants = absl::GetFlag(FLAGS_tenants),
       .opportunities_per_tenant = absl::GetFlag(FLAGS_opportunities),
       .duplicate_fraction = absl::GetFlag(FLAGS_duplicate_fraction),
       .replay_fraction = absl::GetFlag(FLAGS_replay_fraction),
       .malformed_fraction = absl::GetFlag(FLAGS_malformed_fraction)},
      absl::Now());

  const std::string content_type = absl::GetFlag(FLAGS_content_type);
  if (content_type != "json" && content_type != "protobuf") {
    std::fprintf(stderr, "--content_type: json or protobuf, not \"%s\"\n",
                 content_type.c_str());
    return 2;
  }
  const bool binary = content_type == "protobuf";
  std::unique_ptr<AsyncRedis> redis;
  std::unique_ptr<KafkaProducer> producer;
  std::unique_ptr<EventSink> sink;
  std::unique_ptr<v1::IngestionService::Stub> stub;
  if (mode == "redis") {
    absl::StatusOr<RedisEndpoint> endpoint =
        ParseRedisUrl(absl::GetFlag(FLAGS_redis));
    if (!endpoint.ok()) {
      std::fprintf(stderr, "--redis: %s\n",
                   std::string(endpoint.status().message()).c_str());
      return 2;
    }
    absl::StatusOr<std::unique_ptr<AsyncRedis>> made = AsyncRedis::Create(
        {.endpoint = *endpoint, .command_timeout = absl::Seconds(10)});
    if (!made.ok()) {
      std::fprintf(stderr, "--redis: %s\n",
                   std::string(made.status().message()).c_str());
      return 2;
    }
    redis = *std::move(made);
    sink = std::make_unique<RedisStreamSink>(
        redis.get(), RedisStreamSink::Options{
                         .stream = absl::GetFlag(FLAGS_stream),
                         .timeout = absl::Seconds(10),
                         .content_type = binary ? kProtobufContentType : ""});
  } else if (mode == "kafka") {
    absl::StatusOr<KafkaConfig> kafka = KafkaConfigFromFlags(argc, argv);
    if (!kafka.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(kafka.status().message()).c_str());
      return 2;
    }
    absl::StatusOr<std::unique_ptr<KafkaProducer>> made =
        KafkaProducer::Create(*kafka, absl::Seconds(30));
    if (!made.ok()) {
      std::fprintf(stderr, "kafka: %s\n",
                   std::string(made.status().message()).c_str());
      return 2;
    }
    producer = *std::move(made);
    sink = std::make_unique<KafkaEventSink>(
        producer.get(),
        KafkaEventSink::Options{
            .topic = absl::GetFlag(FLAGS_kafka_topic),
            .content_type = binary ? kProtobufContentType : ""});
  } else {
    stub = v1::IngestionService::NewStub(grpc::CreateChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials()));
  }

  // Redis and Kafka modes: a few batches are written while the next ones
  // are made (one client loop or producer, so they reach the bus in
  // order). A failed write
  // stops the run at the next batch; the ones already in flight (up to 7)
  // may still land after the failed one.
  WriteWindow writes(8);
  int64_t emitted = 0, repeats = 0, malformed = 0, rejected = 0;
  const absl::Time start = absl::Now();
  const double rate = absl::GetFlag(FLAGS_rate);
  const int64_t max_events = absl::GetFlag(FLAGS_max_events);
  bool done = false;
  while (!done) {
    std::vector<std::string> batch;
    std::vector<v1::CrmEvent> events;
    while (static_cast<int>(batch.size()) < absl::GetFlag(FLAGS_batch)) {
      if (max_events > 0 && emitted >= max_events) {
        done = true;
        break;
      }
      std::optional<CrmSimulator::Emitted> e = sim.Next();
      if (!e) {
        done = true;
        break;
      }
      ++emitted;
      repeats += e->repeat;
      malformed += e->malformed;
      if (mode == "push") {
        // Push carries protos: what is not even JSON can't be pushed.
        absl::StatusOr<v1::CrmEvent> parsed = ParseCrmEventJson(e->json);
        if (!parsed.ok()) {
          ++rejected;
          continue;
        }
        events.push_back(*std::move(parsed));
      }
      if (binary) {
        // The event in binary; what is not even JSON stays as garbage.
        absl::StatusOr<v1::CrmEvent> parsed = ParseCrmEventJson(e->json);
        if (parsed.ok()) e->json = parsed->SerializeAsString();
      }
      batch.push_back(std::move(e->json));
    }
    if (sink != nullptr) {
      if (absl::Status s = writes.Start(); !s.ok()) {
        writes.Finish().IgnoreError();  // no callback outlives `writes`
        std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
        return 3;
      }
      sink->AppendAsync(std::move(batch),
                        [&writes](absl::Status s) { writes.Done(s); });
    } else if (!events.empty()) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      v1::PushEventsResponse response;
      auto writer = stub->PushEvents(&context, &response);
      v1::PushEventsRequest request;
      for (auto& ev : events) *request.add_events() = std::move(ev);
      writer->Write(request);
      writer->WritesDone();
      grpc::Status s = writer->Finish();
      if (!s.ok()) {
        std::fprintf(stderr, "PushEvents: %s\n", s.error_message().c_str());
        return 3;
      }
      rejected += response.rejected();
    }
    if (rate > 0) {
      absl::Time due = start + absl::Seconds(emitted / rate);
      if (due > absl::Now()) absl::SleepFor(due - absl::Now());
    }
  }
  if (absl::Status s = writes.Finish(); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 3;
  }
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf(
      "emitted %lld events (%lld duplicates or late replays, %lld malformed"
      "%s) for %d tenants in %.2f s: %.0f events/s\n",
      static_cast<long long>(emitted), static_cast<long long>(repeats),
      static_cast<long long>(malformed),
      mode == "push" ? absl::StrCat("; ", rejected, " rejected on push").c_str()
                     : "",
      absl::GetFlag(FLAGS_tenants), seconds,
      seconds > 0 ? emitted / seconds : 0.0);
  return 0;
}

}  // namespace
}  // namespace oppmatrix

int main(int argc, char** argv) {
  oppmatrix::ParseFlagsWithEnv(
      argc, argv,
      "oppmatrix-crm-sim: a reproducible stream of CRM events.\n"
      "--redis, --stream and the --kafka_* flags can also be set as "
      "OPPMATRIX_<FLAG> (the bus, "
      "as for the ingestion service), the others as OPPMATRIX_SIM_<FLAG>.",
      {.tool_flag = "mode",
       .tool_prefix = "OPPMATRIX_SIM_",
       .shared_tool_flags = {"redis", "stream"}});
  return oppmatrix::Run(argc, argv);
}
