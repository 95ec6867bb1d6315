// ResultStore on Redis. Every key of a tenant carries the `{tenant}` hash
// tag, so a Redis Cluster keeps a tenant on one shard and the Lua scripts
// touch one slot:
//
// clang-format off
//   <prefix>:{t}:opp:<id>      hash: c (Classification bytes), fp, rv, rs,
//                              at, cell, pr, prev, ct (cents), v (version),
//                              exp, iat, h (history lines, see kPut);
//                              expires after the TTL
//   <prefix>:{t}:acct:<ACCOUNT>  sorted set: the account's ids by expiry
//   <prefix>:{t}:cell:<CELL>   sorted set: id by priority score
//   <prefix>:{t}:members       hash: id ->
//                              "cell|cents|priority|ct|ind|stage|version|prev"
//   <prefix>:{t}:stats         hash: <CELL>:n and <CELL>:amt (cents)
//   <prefix>:{t}:expiry        sorted set: id by expiry time (ms)
//   <prefix>:{t}:transitions   stream of cell moves, trimmed (MAXLEN ~)
// clang-format on
//
// Writes go through Lua scripts loaded once (SCRIPT LOAD on NOSCRIPT) and
// called by SHA, so storing results, moving their index entries, adjusting
// the totals and appending the transitions is one atomic step per tenant.
// A batch is one pipeline: one round trip.
//
//   auto redis = AsyncRedis::Create({.endpoint = *ParseRedisUrl(url)});
//   RedisResultStore store(redis->get(), {.result_ttl = absl::Hours(24 * 30)});
#ifndef OPPMATRIX_SERVICES_STORE_REDIS_RESULT_STORE_H_
#define OPPMATRIX_SERVICES_STORE_REDIS_RESULT_STORE_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/store/async_redis.h"
#include "services/store/redis_client.h"
#include "services/store/result_store.h"

namespace oppmatrix {

class RedisResultStore final : public ResultStore {
 public:
  struct Options {
    // First part of every key.
    std::string key_prefix = "oppmatrix";
    // How long a result is kept after its last write (between 99 % and
    // 100 % of it: the expiry moves once 1 % has passed); zero keeps it
    // until it is deleted.
    absl::Duration result_ttl = absl::Hours(24 * 90);
    // Approximate length the transitions stream is trimmed to, per tenant.
    int64_t transitions_max_len = 10000;
    // Store calls in flight at most; the ones that come meanwhile wait and then
    // go together, one script call per tenant for all of them. Zero sends each
    // call at once.
    int max_puts_in_flight = 2;
    // States kept per result (HistoryAsync), 0 to kMaxHistoryLength: each
    // write whose cell, scores, grade or ruleset version differ from the
    // newest state adds one and drops the oldest past this many. About
    // 70 bytes each (up to about 260), in the result's own hash.
    int history_length = 10;
  };

  // Every call goes through `async`, which must outlive the store: the
  // asynchronous calls answer from its loop thread, the synchronous ones
  // (for tools and tests) wait for them.
  RedisResultStore(AsyncRedis* async, Options options);

  absl::StatusOr<std::vector<PutOutcome>> Put(absl::Span<const PutItem> items,
                                              const PutOptions& options,
                                              absl::Time deadline) override;
  void PutAsync(absl::Span<const PutItem> items, const PutOptions& options,
                absl::Time deadline, PutCallback done) override;
  void GetAsync(absl::string_view tenant_id, absl::string_view id,
                absl::Time deadline, GetCallback done) override;
  void HistoryAsync(absl::string_view tenant_id, absl::string_view id,
                    absl::Time deadline, HistoryCallback done) override;
  void AccountAsync(absl::string_view tenant_id, absl::string_view account_id,
                    absl::Time now, int limit, absl::Time deadline,
                    AccountCallback done) override;
  absl::StatusOr<v1::Classification> Get(absl::string_view tenant_id,
                                         absl::string_view id,
                                         absl::Time deadline) override;
  absl::StatusOr<std::vector<DeleteOutcome>> Delete(
      absl::Span<const DeleteItem> items, absl::Time now,
      absl::Time deadline) override;
  void DeleteAsync(absl::Span<const DeleteItem> items, absl::Time now,
                   absl::Time deadline, DeleteCallback done) override;
  absl::StatusOr<std::vector<StoredCell>> Matrix(absl::string_view tenant_id,
                                                 const MatrixFilter& filter,
                                                 int top_n, absl::Time now,
                                                 absl::Time deadline) override;
  absl::StatusOr<ResultPage> List(absl::string_view tenant_id,
                                  absl::string_view cell, int page_size,
                                  absl::string_view page_token,
                                  absl::Time deadline) override;
  absl::StatusOr<TransitionPage> Transitions(absl::string_view tenant_id,
                                             int page_size,
                                             absl::string_view page_token,
                                             absl::Time deadline) override;
  void MatrixAsync(absl::string_view tenant_id, const MatrixFilter& filter,
                   int top_n, absl::Time now, absl::Time deadline,
                   MatrixCallback done) override;
  void ListAsync(absl::string_view tenant_id, absl::string_view cell,
                 int page_size, absl::string_view page_token,
                 absl::Time deadline, ListCallback done) override;
  void TransitionsAsync(absl::string_view tenant_id, int page_size,
                        absl::string_view page_token, absl::Time deadline,
                        TransitionsCallback done) override;
  void InputsAsync(absl::string_view tenant_id, absl::string_view cursor,
                   int count, absl::Time classified_before, absl::Time deadline,
                   InputsCallback done) override;
  void TenantsAsync(absl::string_view cursor, int count, absl::Time deadline,
                    TenantsCallback done) override;
  void PinAsync(const PinChange& pin, const PutItem& item,
                const PutOptions& options, absl::Time deadline,
                PinCallback done) override;
  void PinsDueAsync(absl::string_view tenant_id, absl::Time now, int count,
                    absl::Time deadline, InputsCallback done) override;
  void PinnedTenantsAsync(absl::Time now, int count, absl::Time deadline,
                          TenantsDueCallback done) override;
  void SettlePinsAsync(absl::string_view tenant_id, absl::Time deadline,
                       StatusCallback done) override;

  // Store calls waiting for one in flight (see max_puts_in_flight).
  int64_t puts_waiting() const {
    absl::MutexLock lock(&put_mu_);
    return static_cast<int64_t>(pending_puts_.size());
  }

  // "<prefix>:{<tenant>}:" — the start of every key of the tenant.
  std::string TenantPrefix(absl::string_view tenant_id) const;
  // The sorted set of tenants by their earliest pin expiry.
  std::string PinnedTenantsKey() const;

 private:
  struct Script {
    std::string source;
    std::string sha;  // SHA-1 of source, as EVALSHA wants
  };
  static Script MakeScript(const char* body);

  // Runs the pipeline through async_; commands answered NOSCRIPT (Redis
  // restarted or flushed its script cache) are re-run after loading the
  // scripts.
  void RunAsync(std::vector<RedisCommand> cmds, absl::Time deadline,
                AsyncRedis::Callback done);
  // What the replies of the reads say.
  static absl::StatusOr<std::vector<StoredCell>> TotalsReply(
      const RedisReply& reply);
  void FilteredMatrix(const std::string& prefix, const MatrixFilter& filter,
                      int top_n, absl::Time deadline, RedisReply purged,
                      RedisReply members, MatrixCallback done);
  static absl::StatusOr<ResultPage> ListReply(absl::string_view tenant_id,
                                              absl::string_view cell,
                                              const RedisReply& reply);
  static absl::StatusOr<TransitionPage> TransitionsReply(
      absl::string_view tenant_id, int page_size, const RedisReply& reply);
  // Results per script call: bounds how long one call holds Redis.
  static constexpr size_t kPutChunk = 200;
  // Put's script calls (one per tenant and chunk) and which items each
  // carries.
  struct PutBatch {
    std::vector<RedisCommand> commands;
    std::vector<size_t> sizes;  // items per command
    std::vector<size_t> index;  // items' positions, in command order
  };
  // The items of one store call.
  struct PutCall {
    absl::Span<const PutItem> items;
    PutOptions options;
  };
  PutBatch PutCommands(absl::Span<const PutCall> calls) const;
  // A PutAsync call waiting for its turn.
  struct PendingPut {
    absl::Span<const PutItem> items;
    PutOptions options;
    absl::Time deadline;
    PutCallback done;
  };
  // Sends the calls' results together (by the earliest of their deadlines;
  // one already past is answered DEADLINE_EXCEEDED unsent) and answers
  // each; what waited meanwhile goes out first.
  void SendPuts(std::vector<PendingPut> calls);
  // A put in flight was answered: sends what waits, or frees its place.
  void PassTurn();
  // Each item's outcome, or the error of its script call.
  std::vector<absl::StatusOr<PutOutcome>> PutReplies(
      const PutBatch& batch, const std::vector<RedisReply>& replies) const;
  // Get's command, and what its reply says.
  RedisCommand GetCommand(absl::string_view tenant_id,
                          absl::string_view id) const;
  static absl::StatusOr<v1::Classification> GetReply(
      absl::string_view tenant_id, absl::string_view id,
      const RedisReply& reply);
  // EVALSHA with the tenant's four common keys, `fifth_key` (relative to
  // the tenant prefix) when not empty, then the prefix and `args` as ARGV.
  RedisCommand EvalSha(const Script& script, absl::string_view tenant_id,
                       absl::string_view fifth_key,
                       std::vector<std::string> args) const;

  AsyncRedis* const async_;
  const Options options_;
  mutable absl::Mutex put_mu_;
  int puts_in_flight_ ABSL_GUARDED_BY(put_mu_) = 0;
  std::vector<PendingPut> pending_puts_ ABSL_GUARDED_BY(put_mu_);
  const Script put_;
  const Script delete_;
  const Script matrix_;
  const Script list_;
  const Script account_;
  const Script inputs_;
  const Script pin_;
  const Script pins_due_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_STORE_REDIS_RESULT_STORE_H_
