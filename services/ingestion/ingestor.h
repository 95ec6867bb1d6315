// The ingestion pipeline: reads CRM events in batches from an EventSource,
// merges them into the opportunities' snapshots (atomically, newest version
// wins), classifies the new snapshots through the classifier (which stores
// the results; deleted opportunities' results it removes), and acknowledges
// an event only once its opportunity's result is stored or removed. The
// snapshots are the ingestion's own data; the results are the classifier's,
// reached only through its API.
// Events that can't be parsed or validated, or that failed too many
// deliveries, go to the dead-letter stream with their reason.
//
// `batches_in_flight` batches are worked on at once, each by a pipeline of
// its own (a thread): reading the next batch overlaps classifying the one
// before. They may hold events of the same opportunity: the snapshot's
// compare-and-set and the classifier's version check keep each
// opportunity's state and result those of its newest event, whatever order
// the pipelines finish in. While the classifier or Redis is down each batch
// is retried with backoff and no new events are read (back-pressure);
// nothing is acknowledged, so nothing is lost.
//
//   Ingestor ingestor(&source, &snapshots, &classifier, {});
//   std::atomic<bool> stop{false};
//   ingestor.Run(stop);  // until stop is set
#ifndef OPPMATRIX_SERVICES_INGESTION_INGESTOR_H_
#define OPPMATRIX_SERVICES_INGESTION_INGESTOR_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/ingestion/classifier.h"
#include "services/ingestion/event_source.h"
#include "services/store/snapshot_store.h"

namespace oppmatrix {

class Ingestor {
 public:
  struct Options {
    // Events per batch; batch_size * batches_in_flight bounds the events
    // in flight.
    int batch_size = 200;
    // Batches worked on at once (Run's pipelines).
    int batches_in_flight = 4;
    // How long a read waits for the first event when the bus holds none;
    // a read takes what the bus holds, up to batch_size, at once.
    absl::Duration linger = absl::Milliseconds(50);
    // An event delivered more often than this (the process kept dying on
    // it) is dead-lettered.
    int max_deliveries = 5;
    // Bound of each snapshot or result store call.
    absl::Duration store_timeout = absl::Seconds(2);
    // Retry backoff while the classifier or Redis fails.
    absl::Duration min_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
    // Snapshot writes that lose a race with another replica are re-read
    // and re-applied up to this many times within the batch.
    int max_snapshot_attempts = 5;
  };

  struct Stats {
    int64_t batches = 0;
    int64_t processed = 0;   // events acknowledged after storing
    int64_t stale = 0;       // of those, older versions that changed nothing
    int64_t duplicates = 0;  // of those, versions already applied
    int64_t dead_lettered = 0;
    // Events let go while retrying: the bus gave them to another consumer.
    int64_t released = 0;
    int64_t classifier_errors = 0;
    int64_t store_errors = 0;  // Redis errors (snapshots, results, bus)
    std::string last_error;
    absl::Time last_error_time = absl::InfinitePast();
  };

  // Every pointer must outlive the ingestor.
  Ingestor(EventSource* source, SnapshotStore* snapshots,
           Classifier* classifier, Options options);

  // Reads one batch and sees it through (retrying until done or `stop`).
  // Returns how many events it read.
  absl::StatusOr<int> ProcessBatch(const std::atomic<bool>& stop);

  // Processes batches on batches_in_flight pipelines until `stop` is set;
  // each finishes the batch in hand (or, if its dependencies are down,
  // leaves it unacknowledged) first. ProcessBatch is thread-safe too.
  void Run(const std::atomic<bool>& stop);

  Stats stats() const;

 private:
  struct Work;
  struct Key;

  void NoteError(int64_t Stats::*counter, const absl::Status& status);
  // Events to dead-letter, with their reasons: sent together; each one
  // written is finished, each one not is held back (delivered again).
  struct Doomed {
    Work* work;
    std::string reason;
  };
  void DeadLetterAll(const std::vector<Doomed>& doomed);
  // Dead-letters the key's events not yet settled, and is done with it.
  void DeadLetterRest(Key& key, const std::string& reason);
  // Sleeps the current backoff (cut short by `stop`) and doubles it.
  void Backoff(absl::Duration& backoff, const std::atomic<bool>& stop);
  // Merges the events into the snapshots; true when every key is written.
  bool UpdateSnapshots(std::vector<Key>& keys);
  enum class Progress {
    kDone,    // every key's result is stored or removed
    kAgain,   // newer snapshots came meanwhile: go again, at once
    kFailed,  // the classifier or Redis failed: retry with backoff
  };
  // Has each key's result stored (or removed).
  Progress StoreResults(std::vector<Key>& keys);
  // Has the results of deleted (or not yet classifiable) keys removed,
  // into `removed`. A call the classifier refuses as a whole is split in
  // halves, as Classify's; a single deletion still refused has its events
  // dead-lettered. Returns the first other error.
  absl::Status DeleteResults(absl::Span<Key* const> keys,
                             std::vector<Key*>& removed);
  // Classifies the keys' snapshots into `answered`. A call the classifier
  // refuses as a whole (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, OUT_OF_RANGE:
  // too many or too large) is split in halves; a single opportunity still
  // refused has its events dead-lettered. Returns the first other error;
  // the keys not answered then wait for the retry.
  absl::Status Classify(
      absl::Span<Key* const> keys,
      std::vector<std::pair<Key*, v1::ClassifyResult>>& answered);
  // Tells the bus the batch's events are still being worked on, so that
  // other replicas don't take them over while this one retries, and lets go
  // of those the bus has handed to another consumer meanwhile (a Kafka
  // partition revoked). True when nothing of the batch is left to do.
  bool KeepClaimed(std::vector<Key>& keys);

  EventSource* source_;
  SnapshotStore* snapshots_;
  Classifier* classifier_;
  const Options options_;
  mutable absl::Mutex mu_;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_INGESTOR_H_
