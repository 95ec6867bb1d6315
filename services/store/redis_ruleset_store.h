// RulesetStore on Redis. All ruleset keys share the `{rulesets}` hash tag,
// so a Redis Cluster keeps them on one shard and a publication (the
// tenant's version in force, its rollback stack, its log and the serial)
// is one atomic script:
//
// clang-format off
//   <prefix>:{rulesets}:active      hash: tenant -> version in force
//   <prefix>:{rulesets}:serial      counter: +1 per publication or rollback
//   <prefix>:{rulesets}:yaml:<T>    hash: version -> YAML text
//   <prefix>:{rulesets}:meta:<T>    hash: version -> "<uploaded ms>|<author>"
//   <prefix>:{rulesets}:stack:<T>   list: versions to roll back to, newest
//                                   first ("" is the default)
//   <prefix>:{rulesets}:log:<T>     list, newest first:
//                                   "<ms>|p or r|<version>|<previous>|<author>"
//   <prefix>:{rulesets}:rescore:<T> hash: the latest rescore (RescoreJob:
//                                   id, v, state, cur, done, moved, skipped,
//                                   total, start, upd, end, owner, lease)
//   <prefix>:{rulesets}:rescoring   set: tenants whose rescore is running
// clang-format on
//
// Rulesets are small and change rarely; the classifier's replicas read
// `active` and `serial` once per poll.
//
//   RedisRulesetStore store(redis.get(), {});
//   store.PublishAsync("acme", "acme@3f2a9c0d81b4", "ana", now, deadline,
//                      [](absl::StatusOr<RulesetPublishOutcome> r) { ... });
#ifndef OPPMATRIX_SERVICES_STORE_REDIS_RULESET_STORE_H_
#define OPPMATRIX_SERVICES_STORE_REDIS_RULESET_STORE_H_

#include <string>
#include <utility>
#include <vector>

#include "services/store/async_redis.h"
#include "services/store/ruleset_store.h"

namespace oppmatrix {

class RedisRulesetStore final : public RulesetStore {
 public:
  struct Options {
    // First part of every key (the result store's prefix).
    std::string key_prefix = "oppmatrix";
  };

  // `redis` must outlive the store.
  RedisRulesetStore(AsyncRedis* redis, Options options);

  void UploadAsync(absl::string_view tenant_id, absl::string_view version,
                   absl::string_view yaml, absl::string_view author,
                   absl::Time now, absl::Time deadline,
                   Callback<RulesetUploadOutcome> done) override;
  void PublishAsync(absl::string_view tenant_id, absl::string_view version,
                    absl::string_view author, absl::Time now,
                    absl::Time deadline,
                    Callback<RulesetPublishOutcome> done) override;
  void RollbackAsync(absl::string_view tenant_id, absl::string_view author,
                     absl::Time now, absl::Time deadline,
                     Callback<RulesetPublishOutcome> done) override;
  void HistoryAsync(absl::string_view tenant_id, absl::Time deadline,
                    Callback<RulesetHistory> done) override;
  void TextAsync(
      absl::string_view tenant_id, absl::string_view version,
      absl::Time deadline,
      Callback<std::pair<StoredRulesetVersion, std::string>> done) override;
  void ActiveAsync(absl::Time deadline, Callback<ActiveRulesets> done) override;
  void TextsAsync(std::vector<std::pair<std::string, std::string>> versions,
                  absl::Time deadline,
                  Callback<std::vector<std::string>> done) override;
  void RescoringAsync(absl::Time deadline,
                      Callback<std::vector<std::string>> done) override;
  void RescoreAsync(absl::string_view tenant_id, absl::Time deadline,
                    Callback<RescoreJob> done) override;
  void ClaimRescoreAsync(absl::string_view tenant_id, absl::string_view owner,
                         absl::Time now, absl::Duration lease,
                         absl::Time deadline,
                         Callback<std::optional<RescoreJob>> done) override;
  void AdvanceRescoreAsync(absl::string_view tenant_id, absl::string_view owner,
                           int64_t job_id, const RescoreStep& step,
                           absl::Time now, absl::Duration lease,
                           absl::Time deadline, Callback<bool> done) override;

 private:
  // "<prefix>:{rulesets}:<name>".
  std::string Key(absl::string_view name) const;
  // EVALSHA of `script` with the tenant's keys, then `args` after the
  // tenant as ARGV.
  RedisCommand Eval(const std::string& sha, absl::string_view tenant_id,
                    std::vector<std::string> args) const;
  void Run(std::vector<RedisCommand> commands, absl::Time deadline,
           AsyncRedis::Callback done);

  AsyncRedis* const redis_;
  const Options options_;
  const std::string upload_, upload_sha_;
  const std::string publish_, publish_sha_;
  const std::string rollback_, rollback_sha_;
  const std::string claim_, claim_sha_;
  const std::string advance_, advance_sha_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_REDIS_RULESET_STORE_H_
