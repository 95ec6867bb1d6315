// EventSource on a Redis stream read through a consumer group: XREADGROUP
// with COUNT and BLOCK, XAUTOCLAIM of events another consumer left pending
// longer than `claim_idle`, XACK, and a dead-letter stream. Several
// replicas with distinct consumer names share the group's work.
//
// A read returns what the stream holds, up to `max` events, at once (the
// bus batches naturally: small batches when traffic is light, full ones
// under a backlog); only when it holds nothing does the read wait, up to
// `wait`, for the first event.
//
//   RedisStreamSource source(redis.get(), reads.get(),
//                            {.consumer = "ingestion-0"});
//   auto events = source.Read(200, absl::Milliseconds(100));
#ifndef OPPMATRIX_SERVICES_INGESTION_REDIS_STREAM_SOURCE_H_
#define OPPMATRIX_SERVICES_INGESTION_REDIS_STREAM_SOURCE_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/ingestion/event_source.h"
#include "services/store/async_redis.h"
#include "services/store/redis_client.h"

namespace oppmatrix {

// The fields of an event-stream entry: the event, and its content type
// (absent: JSON). What the sink writes, the source reads and a dead
// letter's replay writes again.
inline constexpr char kEventField[] = "event";
inline constexpr char kContentTypeField[] = "content_type";

class RedisStreamSource final : public EventSource {
 public:
  struct Options {
    std::string stream = "oppmatrix:crm-events";
    std::string group = "oppmatrix-ingestion";
    // This replica's name in the group; stable across restarts, so its
    // unacknowledged events come back to it.
    std::string consumer = "ingestion";
    std::string dead_letter_stream = "oppmatrix:crm-events:dead";
    // Approximate length the dead-letter stream is trimmed to.
    int64_t dead_letter_max_len = 100000;
    // An event pending this long with another consumer is taken over.
    absl::Duration claim_idle = absl::Seconds(30);
    // How often to look for such events.
    absl::Duration claim_interval = absl::Seconds(5);
    // How often acknowledging also trims the stream of the events every
    // consumer group has acknowledged (XTRIM MINID); zero never trims.
    absl::Duration trim_interval = absl::Seconds(10);
    // Bound of one Redis round trip (a blocking read adds its wait).
    absl::Duration timeout = absl::Seconds(1);
    // Other consumers of the group idle this long with nothing pending
    // (replicas gone after a rollout) are removed from the group, checked
    // every `claim_interval` * 12; zero never removes them.
    absl::Duration consumer_idle_limit = absl::Hours(1);
  };

  // Both clients must outlive the source. `reads` carries the blocking
  // reads (XREADGROUP BLOCK), and nothing else should share it: a
  // command queued behind a blocking read waits for it. One BLOCK lasts at
  // most half its command timeout, less 100 ms (a longer wait is several);
  // a command timeout of twice the usual wait and more makes that one.
  // Everything else goes through `redis`. The synchronous calls wait on the
  // asynchronous client, for the consumer's own threads; StatsAsync does not
  // wait.
  RedisStreamSource(AsyncRedis* redis, AsyncRedis* reads, Options options);

  // Thread-safe: concurrent reads (one per pipeline) take turns and get
  // disjoint events.
  absl::StatusOr<std::vector<BusEvent>> Read(int max,
                                             absl::Duration wait) override;
  absl::Status Ack(absl::Span<const std::string> ids) override;
  absl::Status DeadLetter(const BusEvent& event,
                          absl::string_view reason) override;
  // Every item's script in one round trip.
  std::vector<absl::Status> DeadLetterAll(
      absl::Span<const DeadLetterItem> items) override;
  absl::Status KeepClaimed(absl::Span<const std::string> ids) override;
  absl::StatusOr<SourceStats> Stats() override;
  void StatsAsync(StatsCallback done) override;

  // Removes this consumer from the group if it has nothing pending (a
  // clean shutdown); with events pending it stays, so that they come back
  // to it or are claimed by another replica. Returns whether it went.
  absl::StatusOr<bool> RemoveSelf();

  // Removes the group's other consumers idle past consumer_idle_limit
  // with nothing pending. Returns how many went.
  absl::StatusOr<int64_t> RemoveIdleConsumers();

  // Removes the entries every consumer group of the stream has
  // acknowledged: those older than each group's oldest pending event (or,
  // with none pending, its last delivered one). Returns how many went.
  absl::StatusOr<int64_t> TrimAcknowledged();

  const Options& options() const { return options_; }

 private:
  // Creates the group (and the stream) if missing, from the start of the
  // stream so events pushed before the first consumer are not skipped.
  absl::Status EnsureGroup();
  // Fills in delivery counts from XPENDING for events read again.
  absl::Status CountDeliveries(std::vector<BusEvent>& events);
  // The dead-letter script's call for `event`.
  RedisCommand DeadLetterCommand(const BusEvent& event,
                                 absl::string_view reason) const;
  // The group's counts in XINFO GROUPS.
  absl::StatusOr<SourceStats> StatsReply(const RedisReply& reply) const;

  AsyncRedis* const redis_;
  AsyncRedis* const reads_;
  const Options options_;
  // Also read by Stats() on gRPC threads.
  std::atomic<bool> group_ready_{false};
  // Reads are one at a time (several pipelines of one replica share the
  // source); each hands out events no other read has.
  absl::Mutex read_mu_;
  bool own_pending_drained_ ABSL_GUARDED_BY(read_mu_) = false;
  // This consumer's pending events from before a restart are read in
  // pages after this id, so two reads never hand out the same ones.
  std::string pending_after_ ABSL_GUARDED_BY(read_mu_) = "0";
  absl::Time next_claim_ ABSL_GUARDED_BY(read_mu_) = absl::InfinitePast();
  absl::Time next_cleanup_ ABSL_GUARDED_BY(read_mu_) = absl::InfinitePast();
  absl::Mutex trim_mu_;
  absl::Time next_trim_ ABSL_GUARDED_BY(trim_mu_) = absl::InfinitePast();
  // The dead-letter script (XADD and XACK at once), run by EVALSHA.
  const std::string dead_letter_source_;
  const std::string dead_letter_sha_;
};

// EventSink on a Redis stream: XADD with field `event`, trimmed to about
// `max_len` entries (0: never trimmed).
class RedisStreamSink final : public EventSink {
 public:
  struct Options {
    std::string stream = "oppmatrix:crm-events";
    int64_t max_len = 0;
    absl::Duration timeout = absl::Seconds(1);
    // The payloads' content type, written with each (kContentTypeField);
    // empty writes none, which means JSON.
    std::string content_type = "";
  };

  // `redis` must outlive the sink.
  RedisStreamSink(AsyncRedis* redis, Options options);

  absl::Status Append(absl::Span<const std::string> payloads) override;
  void AppendAsync(std::vector<std::string> payloads,
                   AppendCallback done) override;

 private:
  std::vector<RedisCommand> AppendCommands(
      absl::Span<const std::string> payloads) const;
  static absl::Status AppendReplies(const std::vector<RedisReply>& replies);

  AsyncRedis* const redis_;
  const Options options_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_REDIS_STREAM_SOURCE_H_
