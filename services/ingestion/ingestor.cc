#include "services/ingestion/ingestor.h"

#include <algorithm>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"
#include "services/common/status_util.h"
#include "services/ingestion/crm_event.h"

namespace oppmatrix {
namespace {

// "invalid: version: must be positive; tenant_id: is required".
std::string Describe(const absl::Status& status) {
  std::vector<FieldViolation> v = GetFieldViolations(status);
  if (v.empty()) return std::string(status.message());
  return absl::StrJoin(v, "; ", [](std::string* out, const FieldViolation& f) {
    absl::StrAppend(out, f.field(), ": ", f.description());
  });
}

}  // namespace

struct Ingestor::Work {
  BusEvent bus;
  v1::CrmEvent event;
  bool finished = false;  // dead-lettered (and so acknowledged)
  // The last attempt to apply it changed nothing: an older version, or
  // (`duplicate`) one already applied.
  bool stale = false;
  bool duplicate = false;
  // The dead-letter write failed: not applied, not acknowledged; it is
  // delivered again and judged again.
  bool held_back = false;
  // The bus gave it to another consumer while this one retried: not
  // acknowledged here.
  bool released = false;
  // Done with for this batch, one way or the other.
  bool settled() const { return finished || held_back || released; }
};

struct Ingestor::Key {
  std::string tenant_id;
  std::string opportunity_id;
  std::vector<Work*> events;  // by version
  // The state after the batch's events (nullopt: there is none).
  std::optional<v1::OpportunitySnapshot> snapshot;
  bool snapshot_written = false;
  bool result_done = false;
};

Ingestor::Ingestor(EventSource* source, SnapshotStore* snapshots,
                   Classifier* classifier, Options options)
    : source_(source),
      snapshots_(snapshots),
      classifier_(classifier),
      options_(std::move(options)) {}

Ingestor::Stats Ingestor::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Ingestor::NoteError(int64_t Stats::*counter, const absl::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    ++(stats_.*counter);
    stats_.last_error = std::string(status.message());
    stats_.last_error_time = absl::Now();
  }
  Log(LogLevel::kWarning, "ingestion", status.message());
}

void Ingestor::DeadLetterAll(const std::vector<Doomed>& doomed) {
  if (doomed.empty()) return;
  std::vector<EventSource::DeadLetterItem> items;
  items.reserve(doomed.size());
  for (const Doomed& d : doomed) items.push_back({&d.work->bus, d.reason});
  std::vector<absl::Status> written = source_->DeadLetterAll(items);
  int64_t done = 0;
  for (size_t i = 0; i < doomed.size(); ++i) {
    if (!written[i].ok()) {
      // Not acknowledged: it comes back and is judged again.
      NoteError(&Stats::store_errors, written[i]);
      doomed[i].work->held_back = true;
      continue;
    }
    doomed[i].work->finished = true;
    ++done;
  }
  absl::MutexLock lock(&mu_);
  stats_.dead_lettered += done;
}

void Ingestor::DeadLetterRest(Key& key, const std::string& reason) {
  std::vector<Doomed> doomed;
  for (Work* w : key.events) {
    if (!w->settled()) doomed.push_back({w, reason});
  }
  DeadLetterAll(doomed);
  key.result_done = true;
}

void Ingestor::Backoff(absl::Duration& backoff, const std::atomic<bool>& stop) {
  absl::Time until = absl::Now() + backoff;
  while (!stop.load() && absl::Now() < until) {
    absl::SleepFor(std::min(absl::Milliseconds(20), until - absl::Now()));
  }
  backoff = std::min(backoff * 2, options_.max_backoff);
}

bool Ingestor::KeepClaimed(std::vector<Key>& keys) {
  std::vector<std::string> ids;
  for (const Key& k : keys) {
    for (const Work* w : k.events) {
      if (!w->settled()) ids.push_back(w->bus.id);
    }
  }
  if (absl::Status s = source_->KeepClaimed(ids); !s.ok()) {
    NoteError(&Stats::store_errors, s);
  }
  std::vector<std::string> gone = source_->Released(ids);
  if (!gone.empty()) {
    std::sort(gone.begin(), gone.end());
    int64_t released = 0;
    for (Key& k : keys) {
      for (Work* w : k.events) {
        if (!w->settled() &&
            std::binary_search(gone.begin(), gone.end(), w->bus.id)) {
          w->released = true;
          ++released;
        }
      }
    }
    Log(LogLevel::kInfo, "ingestion",
        absl::StrCat("let go of ", released,
                     " events the bus gave to another consumer"));
    absl::MutexLock lock(&mu_);
    stats_.released += released;
  }
  for (const Key& k : keys) {
    for (const Work* w : k.events) {
      if (!w->settled()) return false;
    }
  }
  return true;
}

bool Ingestor::UpdateSnapshots(std::vector<Key>& keys) {
  for (int attempt = 0; attempt < options_.max_snapshot_attempts; ++attempt) {
    std::vector<Key*> pending;
    for (Key& k : keys) {
      if (!k.snapshot_written) pending.push_back(&k);
    }
    if (pending.empty()) return true;
    std::vector<SnapshotKey> ids;
    for (Key* k : pending) ids.push_back({k->tenant_id, k->opportunity_id});
    auto current = snapshots_->Get(ids, absl::Now() + options_.store_timeout);
    if (!current.ok()) {
      NoteError(&Stats::store_errors, current.status());
      return false;
    }
    std::vector<SnapshotWrite> writes;
    std::vector<Key*> written;
    std::vector<Doomed> doomed;  // sent together after the loop
    for (size_t i = 0; i < pending.size(); ++i) {
      Key& k = *pending[i];
      std::optional<v1::OpportunitySnapshot> state = (*current)[i];
      const int64_t expected = state ? state->revision() : 0;
      bool changed = false;
      for (Work* w : k.events) {
        if (w->settled()) continue;
        w->stale = false;
        w->duplicate = false;
        absl::StatusOr<ApplyOutcome> out = ApplyEvent(state, w->event);
        if (!out.ok()) {
          doomed.push_back(
              {w, absl::StrCat("cannot apply: ", Describe(out.status()))});
          continue;
        }
        if (out->kind == ApplyOutcome::Kind::kStale) {
          w->stale = !out->duplicate;
          w->duplicate = out->duplicate;
          continue;
        }
        state = std::move(out->snapshot);
        changed = true;
      }
      k.snapshot = std::move(state);
      if (!changed) {
        k.snapshot_written = true;  // nothing new to write
        continue;
      }
      writes.push_back({k.tenant_id, k.opportunity_id, expected, &*k.snapshot});
      written.push_back(&k);
    }
    DeadLetterAll(doomed);
    auto ok =
        snapshots_->CompareAndSet(writes, absl::Now() + options_.store_timeout);
    if (!ok.ok()) {
      NoteError(&Stats::store_errors, ok.status());
      return false;
    }
    // Lost races are re-read and re-applied on the next attempt.
    for (size_t i = 0; i < written.size(); ++i) {
      if ((*ok)[i]) written[i]->snapshot_written = true;
    }
  }
  for (const Key& k : keys) {
    if (!k.snapshot_written) return false;
  }
  return true;
}

namespace {

// The classifier refuses this call as a whole (too many opportunities, too
// large a message): smaller calls may pass, retrying the same cannot.
// RESOURCE_EXHAUSTED counts only for a message size; otherwise it is
// overload (a thread quota, a rate limit), which a retry outlasts.
bool IsRefusal(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return true;
    case absl::StatusCode::kResourceExhausted:
      return absl::StrContains(status.message(), "larger than max");
    default:
      return false;
  }
}

}  // namespace

absl::Status Ingestor::DeleteResults(absl::Span<Key* const> keys,
                                     std::vector<Key*>& removed) {
  if (keys.empty()) return absl::OkStatus();
  std::vector<v1::OpportunityDeletion> deletions;
  deletions.reserve(keys.size());
  for (const Key* k : keys) {
    v1::OpportunityDeletion& d = deletions.emplace_back();
    d.set_tenant_id(k->tenant_id);
    d.set_opportunity_id(k->opportunity_id);
    // A result of this version or a newer one (the opportunity came back,
    // through the other pipeline or replica) stays.
    d.set_version(k->snapshot->opportunity().version());
  }
  absl::StatusOr<std::vector<v1::DeleteResult>> out =
      classifier_->Delete(deletions);
  if (out.ok()) {
    for (size_t i = 0; i < keys.size(); ++i) {
      Key& k = *keys[i];
      const v1::DeleteResult& r = (*out)[i];
      if (r.status().code() != 0) {
        std::string reason = absl::StrCat("classifier rejected the deletion: ",
                                          Describe(FromRpcStatus(r.status())));
        DeadLetterRest(k, reason);
        continue;
      }
      k.result_done = true;
      removed.push_back(&k);
    }
    return absl::OkStatus();
  }
  if (!IsRefusal(out.status())) return out.status();
  // Refused as a whole (more than the classifier's batch limit): halves,
  // down to one deletion, whose events then go to the dead letters.
  if (keys.size() == 1) {
    Key& k = *keys[0];
    std::string reason = absl::StrCat("classifier refused the deletion: ",
                                      Describe(out.status()));
    DeadLetterRest(k, reason);
    return absl::OkStatus();
  }
  NoteError(
      &Stats::classifier_errors,
      absl::Status(out.status().code(),
                   absl::StrCat("splitting a deletion batch of ", keys.size(),
                                ": ", out.status().message())));
  const size_t half = keys.size() / 2;
  OPPMATRIX_RETURN_IF_ERROR(DeleteResults(keys.subspan(0, half), removed));
  return DeleteResults(keys.subspan(half), removed);
}

Ingestor::Progress Ingestor::StoreResults(std::vector<Key>& keys) {
  bool all_done = true;
  std::vector<Key*> classify;
  std::vector<Key*> remove;
  for (Key& k : keys) {
    if (k.result_done) continue;
    if (!k.snapshot.has_value()) {
      k.result_done = true;  // every event was dead-lettered
      continue;
    }
    // Deleted, or only partial events since a deletion (or since nothing):
    // no classification may stand until a full upsert arrives.
    if (k.snapshot->deleted() || k.snapshot->awaiting_full()) {
      remove.push_back(&k);
      continue;
    }
    // Also when every event was stale: a crash after the snapshot write
    // may have left its classification unstored (the cache makes this
    // cheap when it was).
    classify.push_back(&k);
  }
  // Stored or removed: checked against the newest snapshot below.
  std::vector<Key*> stored;
  if (absl::Status s = DeleteResults(remove, stored); !s.ok()) {
    NoteError(&Stats::classifier_errors, s);
    all_done = false;  // the rest wait for the retry
  }
  std::vector<std::pair<Key*, v1::ClassifyResult>> answered;
  if (absl::Status s = Classify(classify, answered); !s.ok()) {
    NoteError(&Stats::classifier_errors, s);
    all_done = false;  // the unanswered wait for the retry
  }
  for (auto& [key, r] : answered) {
    Key& k = *key;
    if (r.status().code() != 0) {
      std::string reason = absl::StrCat("classifier rejected: ",
                                        Describe(FromRpcStatus(r.status())));
      DeadLetterRest(k, reason);
    } else if (r.stored() || r.superseded()) {
      k.result_done = true;
      stored.push_back(&k);
    } else {
      NoteError(&Stats::classifier_errors,
                absl::UnavailableError(
                    "the classifier answered but could not store the result "
                    "(its Redis is down?)"));
      all_done = false;
    }
  }
  // The other pipeline or replica may have written a newer snapshot (a
  // late event for the same opportunity) while this one was classifying
  // or removing; whichever of the two stores last must have worked from
  // the newest. Check after storing, and go again from the newest if it
  // changed.
  // The revisions first (small replies); the snapshots only of those
  // that changed.
  bool again = false;
  if (!stored.empty()) {
    std::vector<SnapshotKey> ids;
    for (Key* k : stored) ids.push_back({k->tenant_id, k->opportunity_id});
    auto revisions =
        snapshots_->Revisions(ids, absl::Now() + options_.store_timeout);
    if (!revisions.ok()) {
      NoteError(&Stats::store_errors, revisions.status());
      for (Key* k : stored) k->result_done = false;
      return Progress::kFailed;
    }
    std::vector<Key*> changed;
    std::vector<SnapshotKey> changed_ids;
    for (size_t i = 0; i < stored.size(); ++i) {
      const int64_t now = (*revisions)[i];
      if (now != 0 && now != stored[i]->snapshot->revision()) {
        changed.push_back(stored[i]);
        changed_ids.push_back(ids[i]);
      }
    }
    if (!changed.empty()) {
      auto latest =
          snapshots_->Get(changed_ids, absl::Now() + options_.store_timeout);
      if (!latest.ok()) {
        NoteError(&Stats::store_errors, latest.status());
        for (Key* k : changed) k->result_done = false;
        return Progress::kFailed;
      }
      for (size_t i = 0; i < changed.size(); ++i) {
        if (!(*latest)[i].has_value()) continue;  // expired meanwhile
        changed[i]->snapshot = (*latest)[i];
        changed[i]->result_done = false;
        again = true;
      }
    }
  }
  if (!all_done) return Progress::kFailed;
  return again ? Progress::kAgain : Progress::kDone;
}

absl::Status Ingestor::Classify(
    absl::Span<Key* const> keys,
    std::vector<std::pair<Key*, v1::ClassifyResult>>& answered) {
  if (keys.empty()) return absl::OkStatus();
  std::vector<v1::Opportunity> opportunities;
  opportunities.reserve(keys.size());
  for (Key* k : keys) opportunities.push_back(k->snapshot->opportunity());
  absl::StatusOr<std::vector<v1::ClassifyResult>> results =
      classifier_->BatchClassify(opportunities);
  if (results.ok()) {
    for (size_t i = 0; i < keys.size(); ++i) {
      answered.emplace_back(keys[i], std::move((*results)[i]));
    }
    return absl::OkStatus();
  }
  if (!IsRefusal(results.status())) return results.status();
  if (keys.size() == 1) {
    // One opportunity the classifier refuses whatever the batch: retrying
    // cannot help, so its events go to the dead letters.
    Key& k = *keys[0];
    std::string reason =
        absl::StrCat("classifier refused: ", Describe(results.status()));
    DeadLetterRest(k, reason);
    return absl::OkStatus();
  }
  NoteError(&Stats::classifier_errors,
            absl::Status(results.status().code(),
                         absl::StrCat("splitting a batch of ", keys.size(),
                                      ": ", results.status().message())));
  const size_t half = keys.size() / 2;
  OPPMATRIX_RETURN_IF_ERROR(Classify(keys.subspan(0, half), answered));
  return Classify(keys.subspan(half), answered);
}

absl::StatusOr<int> Ingestor::ProcessBatch(const std::atomic<bool>& stop) {
  absl::StatusOr<std::vector<BusEvent>> read =
      source_->Read(options_.batch_size, options_.linger);
  if (!read.ok()) {
    NoteError(&Stats::store_errors, read.status());
    return read.status();
  }
  const int n = static_cast<int>(read->size());
  if (n == 0) return 0;
  std::string last_error;
  {
    absl::MutexLock lock(&mu_);
    last_error = stats_.last_error;
  }
  std::vector<Work> work(read->size());
  // What cannot even be parsed or checked goes to the dead letters in one
  // round trip, after the loop.
  std::vector<Doomed> doomed;
  std::map<std::pair<std::string, std::string>, size_t> index;
  std::vector<Key> keys;
  for (size_t i = 0; i < work.size(); ++i) {
    Work& w = work[i];
    w.bus = std::move((*read)[i]);
    if (w.bus.deliveries > options_.max_deliveries) {
      doomed.push_back(
          {&w, absl::StrCat("failed ", w.bus.deliveries - 1,
                            " deliveries; last error: ",
                            last_error.empty() ? "none" : last_error)});
      continue;
    }
    if (w.bus.payload.empty()) {
      doomed.push_back(
          {&w, "unparseable: the stream entry has no `event` field"});
      continue;
    }
    absl::StatusOr<v1::CrmEvent> event =
        ParseCrmEvent(w.bus.payload, w.bus.content_type);
    if (!event.ok()) {
      doomed.push_back(
          {&w, absl::StrCat("unparseable: ", event.status().message())});
      continue;
    }
    if (absl::Status s = CheckCrmEvent(*event); !s.ok()) {
      doomed.push_back({&w, absl::StrCat("invalid: ", Describe(s))});
      continue;
    }
    w.event = *std::move(event);
    auto [it, added] = index.emplace(
        std::make_pair(w.event.tenant_id(), w.event.opportunity_id()),
        keys.size());
    if (added) {
      Key& k = keys.emplace_back();
      k.tenant_id = w.event.tenant_id();
      k.opportunity_id = w.event.opportunity_id();
    }
    keys[it->second].events.push_back(&w);
  }
  DeadLetterAll(doomed);
  // Within a batch, older versions first: the order they were meant in.
  for (Key& k : keys) {
    std::stable_sort(k.events.begin(), k.events.end(),
                     [](const Work* a, const Work* b) {
                       return a->event.version() < b->event.version();
                     });
  }
  absl::Duration backoff = options_.min_backoff;
  while (!UpdateSnapshots(keys)) {
    if (stop.load()) return n;        // unacknowledged: delivered again later
    if (KeepClaimed(keys)) return n;  // all of it is another's now
    Backoff(backoff, stop);
  }
  backoff = options_.min_backoff;
  for (Progress p = StoreResults(keys); p != Progress::kDone;
       p = StoreResults(keys)) {
    // A newer snapshot to work from is no failure: at once, even when
    // stopping (the batch in hand is finished).
    if (p == Progress::kAgain) continue;
    if (stop.load()) return n;
    if (KeepClaimed(keys)) return n;
    Backoff(backoff, stop);
  }
  // Counted per event acknowledged, as its last attempt found it.
  std::vector<std::string> ids;
  int64_t stale = 0;
  int64_t duplicates = 0;
  for (const Key& k : keys) {
    for (const Work* w : k.events) {
      if (w->settled()) continue;
      ids.push_back(w->bus.id);
      stale += w->stale ? 1 : 0;
      duplicates += w->duplicate ? 1 : 0;
    }
  }
  if (absl::Status s = source_->Ack(ids); !s.ok()) {
    // Delivered again later; applying them again is a no-op.
    NoteError(&Stats::store_errors, s);
    return s;
  }
  absl::MutexLock lock(&mu_);
  ++stats_.batches;
  stats_.processed += static_cast<int64_t>(ids.size());
  stats_.stale += stale;
  stats_.duplicates += duplicates;
  return n;
}

void Ingestor::Run(const std::atomic<bool>& stop) {
  auto pipeline = [this, &stop] {
    absl::Duration backoff = options_.min_backoff;
    while (!stop.load()) {
      absl::StatusOr<int> n = ProcessBatch(stop);
      if (n.ok()) {
        backoff = options_.min_backoff;
      } else {
        Backoff(backoff, stop);  // the bus itself is unreachable
      }
    }
  };
  std::vector<std::thread> others;
  for (int i = 1; i < options_.batches_in_flight; ++i) {
    others.emplace_back(pipeline);
  }
  pipeline();
  for (std::thread& t : others) t.join();
}

}  // namespace oppmatrix
