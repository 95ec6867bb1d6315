// The storage-neutral interface tenants' own rulesets are kept behind: the
// uploaded versions (YAML text, who uploaded each and when), the version
// in force per tenant, a log of publications and rollbacks, and the
// rescore each publication starts.
// RedisRulesetStore implements it; the classifier's RulesetService and
// TenantRulesets never see Redis.
//
// Every call answers through a callback that runs once, from the store's
// I/O thread once it has answered (or before the call returns); it must
// not block.
#ifndef OPPMATRIX_SERVICES_STORE_RULESET_STORE_H_
#define OPPMATRIX_SERVICES_STORE_RULESET_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace oppmatrix {

// Versions kept per tenant: an upload past this drops the oldest version
// that is neither in force nor on the rollback stack.
inline constexpr int kMaxRulesetVersions = 64;
// How far back rollbacks reach, in publications.
inline constexpr int kMaxRollbackDepth = 32;
// Publications and rollbacks kept in a tenant's log.
inline constexpr int kMaxRulesetLog = 100;

// One uploaded version.
struct StoredRulesetVersion {
  std::string version;
  absl::Time uploaded_time = absl::UnixEpoch();
  std::string uploaded_by = {};
};

// One change of the version in force; "" is the file-based default.
struct RulesetChange {
  absl::Time time = absl::UnixEpoch();
  std::string author = {};
  std::string version = {};
  std::string previous_version = {};
  bool rollback = false;
};

// A tenant's versions and changes.
struct RulesetHistory {
  std::string active;  // "" when the tenant uses the default
  std::vector<StoredRulesetVersion> versions;  // newest upload first
  std::vector<RulesetChange> changes;          // newest first
};

struct RulesetUploadOutcome {
  StoredRulesetVersion version;
  bool created = false;  // false: uploaded before, kept as it was
};

struct RulesetPublishOutcome {
  RulesetChange change;
  bool changed = false;  // false: the version was in force already
  // The text of change.version ("" for the default).
  std::string yaml = {};
  // The rescore the change started (RescoreJob::id); 0 when unchanged.
  int64_t rescore_id = 0;
};

// The rescore of a tenant's stored results that a publication or rollback
// starts, in the same atomic step; a newer one replaces it. Whoever runs it
// holds a lease and moves it on page by page, so a replica that dies
// mid-way leaves it where it stopped, for the next one to go on.
struct RescoreJob {
  std::string tenant_id;
  int64_t id = 0;            // the publication's serial
  std::string version = {};  // the version rescored to ("" the default)
  bool finished = false;
  std::string cursor = {};  // of the walk's next step
  int64_t done = 0;         // results read and rescored (or skipped)
  int64_t moved = 0;        // of them, moved to another cell
  int64_t skipped = 0;      // without a stored opportunity, or superseded
  int64_t total = -1;       // results stored when it began; -1 not yet read
  absl::Time started_time = absl::UnixEpoch();
  absl::Time updated_time = absl::UnixEpoch();
  absl::Time finished_time = absl::UnixEpoch();
  std::string owner = {};  // who holds the lease ("" nobody)
  absl::Time lease_until = absl::UnixEpoch();
};

// One step of a rescore (RulesetStore::AdvanceRescoreAsync).
struct RescoreStep {
  std::string cursor;
  int64_t done = 0;  // added to the job's figures
  int64_t moved = 0;
  int64_t skipped = 0;
  int64_t total = -1;  // set when >= 0
  bool finished = false;
};

// The version in force of every tenant that has its own. `serial` changes
// with every publication and rollback, so a reader can tell that nothing
// changed since its last look.
struct ActiveRulesets {
  int64_t serial = 0;
  absl::flat_hash_map<std::string, std::string> by_tenant;
};

class RulesetStore {
 public:
  virtual ~RulesetStore() = default;

  template <typename T>
  using Callback = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;

  // Keeps `yaml` as `version` of the tenant (the caller has validated it).
  // An existing version is kept as it was (created false).
  // RESOURCE_EXHAUSTED when kMaxRulesetVersions are kept and none of them
  // may be dropped.
  virtual void UploadAsync(absl::string_view tenant_id,
                           absl::string_view version, absl::string_view yaml,
                           absl::string_view author, absl::Time now,
                           absl::Time deadline,
                           Callback<RulesetUploadOutcome> done) = 0;
  // Puts `version` in force (NOT_FOUND if it was not uploaded), logs the
  // change and keeps the previous version for a rollback; atomically.
  virtual void PublishAsync(absl::string_view tenant_id,
                            absl::string_view version, absl::string_view author,
                            absl::Time now, absl::Time deadline,
                            Callback<RulesetPublishOutcome> done) = 0;
  // Puts back the version in force before the latest publication, the
  // default when there is none; FAILED_PRECONDITION when the tenant uses
  // the default already.
  virtual void RollbackAsync(absl::string_view tenant_id,
                             absl::string_view author, absl::Time now,
                             absl::Time deadline,
                             Callback<RulesetPublishOutcome> done) = 0;
  virtual void HistoryAsync(absl::string_view tenant_id, absl::Time deadline,
                            Callback<RulesetHistory> done) = 0;
  // One version with its text; NOT_FOUND if there is none.
  virtual void TextAsync(
      absl::string_view tenant_id, absl::string_view version,
      absl::Time deadline,
      Callback<std::pair<StoredRulesetVersion, std::string>> done) = 0;
  // Every tenant's version in force, with the serial.
  virtual void ActiveAsync(absl::Time deadline,
                           Callback<ActiveRulesets> done) = 0;
  // The texts of (tenant, version) pairs, in order; "" where there is
  // none.
  virtual void TextsAsync(
      std::vector<std::pair<std::string, std::string>> versions,
      absl::Time deadline, Callback<std::vector<std::string>> done) = 0;

  // The tenants whose rescore has not finished.
  virtual void RescoringAsync(absl::Time deadline,
                              Callback<std::vector<std::string>> done) = 0;
  // The tenant's latest rescore; NOT_FOUND if it never had one.
  virtual void RescoreAsync(absl::string_view tenant_id, absl::Time deadline,
                            Callback<RescoreJob> done) = 0;
  // Takes the lease of the tenant's unfinished rescore for `lease` (or
  // renews it): the job, or nullopt when it is finished or another owner's
  // lease has not run out.
  virtual void ClaimRescoreAsync(absl::string_view tenant_id,
                                 absl::string_view owner, absl::Time now,
                                 absl::Duration lease, absl::Time deadline,
                                 Callback<std::optional<RescoreJob>> done) = 0;
  // Records a step of rescore `job_id` and renews the lease for `lease`
  // (zero: gives it up, so another replica can go on at once); false when
  // the job is no longer `owner`'s: a newer publication replaced it, or
  // another replica took it over after the lease ran out.
  virtual void AdvanceRescoreAsync(absl::string_view tenant_id,
                                   absl::string_view owner, int64_t job_id,
                                   const RescoreStep& step, absl::Time now,
                                   absl::Duration lease, absl::Time deadline,
                                   Callback<bool> done) = 0;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_RULESET_STORE_H_
