// The latest OpportunitySnapshot per (tenant, opportunity), kept by the
// ingestion service, with an atomic compare-and-set on the snapshot's
// `revision`: a snapshot is written only if the stored one is still the one
// it was made from.
//
//   auto current = store->Get({{"acme", "opp-1"}}, deadline);
//   ... apply events ...
//   auto written = store->CompareAndSet({{"acme", "opp-1", 3, &next}},
//   deadline);
//
// Every call has an asynchronous form (GetAsync, ...) answered from the
// store's I/O thread; the forms above wait for it.
#ifndef OPPMATRIX_SERVICES_STORE_SNAPSHOT_STORE_H_
#define OPPMATRIX_SERVICES_STORE_SNAPSHOT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "oppmatrix/v1/snapshot.pb.h"
#include "services/store/async_redis.h"
#include "services/store/redis_client.h"

namespace oppmatrix {

struct SnapshotKey {
  std::string tenant_id;
  std::string opportunity_id;
};

struct SnapshotWrite {
  std::string tenant_id;
  std::string opportunity_id;
  // The revision of the snapshot this one was made from (0: there was
  // none). The write happens only if that is still the stored revision
  // and `snapshot->revision()` is above it.
  int64_t expected_revision = 0;
  const v1::OpportunitySnapshot* snapshot = nullptr;  // not owned
};

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  using Snapshots = std::vector<std::optional<v1::OpportunitySnapshot>>;
  using GetCallback = absl::AnyInvocable<void(absl::StatusOr<Snapshots>) &&>;
  using RevisionsCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<int64_t>>) &&>;
  using CompareAndSetCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<bool>>) &&>;

  // The asynchronous calls return at once and answer `done` once, from the
  // store's I/O thread (`done` must not block). Their arguments may go
  // away when they return.

  // The stored snapshot of each key (nullopt when none), one round trip.
  virtual void GetAsync(absl::Span<const SnapshotKey> keys, absl::Time deadline,
                        GetCallback done) = 0;

  // The stored revision of each key (0 when none), one round trip: a
  // cheap "did it change?" without reading the snapshots.
  virtual void RevisionsAsync(absl::Span<const SnapshotKey> keys,
                              absl::Time deadline, RevisionsCallback done) = 0;

  // Writes each snapshot whose expected version still holds; false for a
  // write that lost the race (re-read and re-apply). One round trip.
  virtual void CompareAndSetAsync(absl::Span<const SnapshotWrite> writes,
                                  absl::Time deadline,
                                  CompareAndSetCallback done) = 0;

  // The same, waiting for the answer: for threads of their own (the
  // ingestion pipelines, tools), never for a server's.
  absl::StatusOr<Snapshots> Get(absl::Span<const SnapshotKey> keys,
                                absl::Time deadline);
  absl::StatusOr<std::vector<int64_t>> Revisions(
      absl::Span<const SnapshotKey> keys, absl::Time deadline);
  absl::StatusOr<std::vector<bool>> CompareAndSet(
      absl::Span<const SnapshotWrite> writes, absl::Time deadline);
};

// SnapshotStore on Redis: hash <prefix>:{tenant}:snap:<id> with fields
// `s` (snapshot bytes) and `v` (its revision); the gate is a Lua script,
// one call per tenant (per 200 writes) for a batch.
// Tombstones (deleted snapshots) expire after `tombstone_ttl`.
class RedisSnapshotStore final : public SnapshotStore {
 public:
  struct Options {
    std::string key_prefix = "oppmatrix";
    absl::Duration tombstone_ttl = absl::Hours(24 * 30);
  };

  // `redis` must outlive the store; the asynchronous calls answer from
  // its loop thread.
  RedisSnapshotStore(AsyncRedis* redis, Options options);

  void GetAsync(absl::Span<const SnapshotKey> keys, absl::Time deadline,
                GetCallback done) override;
  void RevisionsAsync(absl::Span<const SnapshotKey> keys, absl::Time deadline,
                      RevisionsCallback done) override;
  void CompareAndSetAsync(absl::Span<const SnapshotWrite> writes,
                          absl::Time deadline,
                          CompareAndSetCallback done) override;

  std::string Key(absl::string_view tenant_id, absl::string_view id) const;

  // One page of a tenant's snapshots (tombstones included), by SCAN over
  // its keys: pass the returned cursor back until it is "0". For tools
  // (oppctl rules diff), not for serving: SCAN walks the whole keyspace,
  // and the call waits for its replies.
  struct Page {
    std::vector<v1::OpportunitySnapshot> snapshots;
    std::string cursor;
  };
  absl::StatusOr<Page> ScanTenant(absl::string_view tenant_id,
                                  const std::string& cursor, int count,
                                  absl::Time deadline);

 private:
  // One field of each key's hash, one pipeline; INTERNAL on an error reply.
  using FieldCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<RedisReply>>) &&>;
  void HashField(absl::Span<const SnapshotKey> keys, absl::string_view field,
                 absl::Time deadline, FieldCallback done);
  AsyncRedis* const redis_;
  const Options options_;
  const std::string cas_source_;
  const std::string cas_sha_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_SNAPSHOT_STORE_H_
