#include "services/store/redis_result_store.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/hash_util.h"
#include "services/common/history_codec.h"
#include "services/common/status_macros.h"
#include "services/common/wait_for.h"
#include "services/store/page_token.h"
#include "services/store/redis_scripts.h"

namespace oppmatrix {
namespace {

using google::protobuf::util::TimeUtil;

// Largest amount one result adds to a cell total, in cents (10^11 units of
// the base currency), so a cell's total (an integer HINCRBY) cannot
// overflow before ~900,000 results of that size.
constexpr int64_t kMaxCents = 10'000'000'000'000;

int64_t ToCents(const v1::Classification& c) {
  if (!c.has_amount()) return 0;
  const google::type::Money& m = c.amount();
  if (m.units() >= kMaxCents / 100) return kMaxCents;
  int64_t cents = m.units() * 100 + (m.nanos() + 5'000'000) / 10'000'000;
  return std::clamp<int64_t>(cents, 0, kMaxCents);
}

int64_t ToMillis(absl::Time t) { return absl::ToUnixMillis(t); }

// "%.17g": what Redis prints for a sorted-set score, so equal doubles give
// equal strings.
// The shortest text that reads back as the same double ("94.43"); the
// scripts compare scores as numbers, so older, longer texts still match.
std::string Score(double value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return ec == std::errc() ? std::string(buf, end)
                           : absl::StrFormat("%.17g", value);
}

absl::Status ReplyError(const RedisReply& reply, absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("redis ", what, ": ",
                   reply.is_error() ? reply.str : "unexpected reply type"));
}

// Parses a stored result, with `prev` as its previous_cell.
absl::StatusOr<v1::Classification> ParseResult(const std::string& bytes,
                                               const std::string& prev) {
  v1::Classification c;
  if (!c.ParseFromString(bytes)) {
    return absl::DataLossError("redis: a stored result does not parse");
  }
  c.set_previous_cell(prev);
  return c;
}

// A history line "at|cell|potential|relationship|priority|grade|ruleset|
// cause|version", maybe with fields and contributions after (see kPut),
// whose factors are named by `factor_names` (ruleset version -> names);
// nullopt when it is not one.
std::optional<v1::HistoryEntry> ParseHistoryLine(
    absl::string_view line,
    const absl::flat_hash_map<std::string, std::string>& factor_names) {
  std::vector<absl::string_view> f = absl::StrSplit(line, '|');
  int64_t at = 0, version = 0;
  int grade = 0;
  double potential = 0, relationship = 0, priority = 0;
  if (f.size() < 9 || !absl::SimpleAtoi(f[0], &at) ||
      !absl::SimpleAtod(f[2], &potential) ||
      !absl::SimpleAtod(f[3], &relationship) ||
      !absl::SimpleAtod(f[4], &priority) || !absl::SimpleAtoi(f[5], &grade) ||
      !v1::Grade_IsValid(grade) || !absl::SimpleAtoi(f[8], &version)) {
    return std::nullopt;
  }
  v1::HistoryEntry e;
  *e.mutable_classified_time() = TimeUtil::MillisecondsToTimestamp(at);
  e.set_cell(std::string(f[1]));
  e.set_potential_score(potential);
  e.set_relationship_score(relationship);
  e.set_priority_score(priority);
  e.set_grade(static_cast<v1::Grade>(grade));
  e.set_ruleset_version(std::string(f[6]));
  e.set_cause(std::string(f[7]));
  e.set_opportunity_version(version);
  if (f.size() >= 11) {
    for (std::string& name : FieldPathNames(f[9])) {
      e.add_changed_fields(std::move(name));
    }
    auto names = factor_names.find(f[6]);
    if (names != factor_names.end()) {
      for (v1::Reason& r : DecodeContributions(names->second, f[10])) {
        *e.add_contributions() = std::move(r);
      }
    }
  }
  return e;
}

// A reply element as a string ("" for nil).
const std::string& Str(const RedisReply& r) { return r.str; }

bool IsNil(const RedisReply& r) { return r.type == RedisReply::Type::kNil; }

// Members entry: "cell|cents|priority|ct|ind|stage|version|prev".
struct Member {
  std::string cell;
  int64_t cents = 0;
  double priority = 0;
  int customer_type = 0;
  int industry = 0;
  int buying_stage = 0;
};

bool ParseMember(absl::string_view value, Member* m) {
  std::vector<absl::string_view> f = absl::StrSplit(value, '|');
  if (f.size() != 8) return false;
  m->cell = std::string(f[0]);
  return absl::SimpleAtoi(f[1], &m->cents) &&
         absl::SimpleAtod(f[2], &m->priority) &&
         absl::SimpleAtoi(f[3], &m->customer_type) &&
         absl::SimpleAtoi(f[4], &m->industry) &&
         absl::SimpleAtoi(f[5], &m->buying_stage);
}

}  // namespace

RedisResultStore::Script RedisResultStore::MakeScript(const char* body) {
  std::string source = absl::StrCat(redis_scripts::kPrologue, body);
  std::string sha = Sha1Hex(source);
  return {std::move(source), std::move(sha)};
}

RedisResultStore::RedisResultStore(AsyncRedis* async, Options options)
    : async_(async),
      options_(std::move(options)),
      put_(MakeScript(redis_scripts::kPut)),
      delete_(MakeScript(redis_scripts::kDelete)),
      matrix_(MakeScript(redis_scripts::kMatrix)),
      list_(MakeScript(redis_scripts::kList)),
      account_(MakeScript(redis_scripts::kAccount)),
      inputs_(MakeScript(redis_scripts::kInputs)),
      pin_(MakeScript(redis_scripts::kPin)),
      pins_due_(MakeScript(redis_scripts::kPinsDue)) {}

std::string RedisResultStore::PinnedTenantsKey() const {
  return absl::StrCat(options_.key_prefix, ":{pins}:due");
}

std::string RedisResultStore::TenantPrefix(absl::string_view tenant_id) const {
  return absl::StrCat(options_.key_prefix, ":{", tenant_id, "}:");
}

RedisCommand RedisResultStore::EvalSha(const Script& script,
                                       absl::string_view tenant_id,
                                       absl::string_view fifth_key,
                                       std::vector<std::string> args) const {
  std::string prefix = TenantPrefix(tenant_id);
  RedisCommand cmd;
  cmd.reserve(9 + args.size());
  cmd.push_back("EVALSHA");
  cmd.push_back(script.sha);
  cmd.push_back(fifth_key.empty() ? std::string("4") : std::string("5"));
  for (const char* key : {"members", "stats", "expiry", "transitions"}) {
    cmd.push_back(absl::StrCat(prefix, key));
  }
  if (!fifth_key.empty()) cmd.push_back(absl::StrCat(prefix, fifth_key));
  cmd.push_back(std::move(prefix));
  for (std::string& arg : args) cmd.push_back(std::move(arg));
  return cmd;
}

void RedisResultStore::RunAsync(std::vector<RedisCommand> cmds,
                                absl::Time deadline,
                                AsyncRedis::Callback done) {
  // Every script of the store: any of them may be asked for after a
  // flush.
  const std::string* scripts[] = {
      &put_.source,     &delete_.source, &matrix_.source, &list_.source,
      &account_.source, &inputs_.source, &pin_.source,    &pins_due_.source};
  PipelineLoadingScriptsAsync(*async_, std::move(cmds), scripts, deadline,
                              std::move(done));
}

RedisResultStore::PutBatch RedisResultStore::PutCommands(
    absl::Span<const PutCall> calls) const {
  const int64_t ttl_ms = absl::ToInt64Milliseconds(options_.result_ttl);
  // Every item of every call, and its call's time and keep-current-since
  // as the script reads them.
  struct CallArgs {
    std::string now;
    std::string keep;
  };
  std::vector<CallArgs> call_args;
  call_args.reserve(calls.size());
  struct Flat {
    const PutItem* item;
    const CallArgs* call;
  };
  std::vector<Flat> flat;
  int64_t latest_ms = std::numeric_limits<int64_t>::min();
  for (const PutCall& call : calls) {
    const PutOptions& o = call.options;
    const int64_t now_ms = ToMillis(o.now);
    latest_ms = std::max(latest_ms, now_ms);
    call_args.push_back(
        {absl::StrCat(now_ms),
         o.keep_current_since == absl::InfiniteFuture()
             ? std::string()
             : absl::StrCat(o.keep_current_since == absl::InfinitePast()
                                ? std::numeric_limits<int64_t>::min()
                                : ToMillis(o.keep_current_since))});
    for (const PutItem& item : call.items) {
      flat.push_back({&item, &call_args.back()});
    }
  }
  // The items of each tenant, in order of first appearance.
  std::vector<std::vector<size_t>> groups;
  absl::flat_hash_map<absl::string_view, size_t> group_of;
  for (size_t i = 0; i < flat.size(); ++i) {
    auto [it, added] = group_of.try_emplace(
        flat[i].item->classification->tenant_id(), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  PutBatch batch;
  std::string bytes;
  for (const std::vector<size_t>& group : groups) {
    const std::string& tenant =
        flat[group[0]].item->classification->tenant_id();
    for (size_t start = 0; start < group.size(); start += kPutChunk) {
      const size_t end = std::min(group.size(), start + kPutChunk);
      std::vector<std::string> args;
      args.reserve(9 + 21 * (end - start));
      args.push_back(absl::StrCat(latest_ms));
      args.push_back(absl::StrCat(ttl_ms));
      args.push_back(absl::StrCat(options_.transitions_max_len));
      args.push_back(tenant);
      // A tenant's first script also forgets a few expired results.
      args.push_back(start == 0 ? "32" : "0");
      args.push_back(absl::StrCat(
          std::clamp(options_.history_length, 0, kMaxHistoryLength)));
      // The factor names of the chunk's ruleset versions, each once.
      const size_t names_at = args.size();
      args.emplace_back("0");
      if (options_.history_length > 0) {
        int versions = 0;
        for (size_t j = start; j < end; ++j) {
          const PutItem& item = *flat[group[j]].item;
          if (item.factor_names.empty()) continue;
          const std::string& v = item.classification->ruleset_version();
          bool seen = false;
          for (size_t k = names_at + 1; k < args.size() && !seen; k += 2) {
            seen = args[k] == v;
          }
          if (seen) continue;
          args.push_back(v);
          args.emplace_back(item.factor_names);
          ++versions;
        }
        args[names_at] = absl::StrCat(versions);
      }
      for (size_t j = start; j < end; ++j) {
        const Flat& f = flat[group[j]];
        const PutItem& item = *f.item;
        const v1::Classification& c = *item.classification;
        bytes.clear();
        if (c.previous_cell().empty()) {
          c.SerializeToString(&bytes);
        } else {
          v1::Classification stored = c;
          stored.clear_previous_cell();  // kept in its own field, "prev"
          stored.SerializeToString(&bytes);
        }
        args.push_back(c.opportunity_id());
        args.push_back(c.cell());
        args.push_back(Score(c.priority_score()));
        args.push_back(absl::StrCat(ToCents(c)));
        args.push_back(absl::StrCat(static_cast<int>(c.customer_type()), "|",
                                    static_cast<int>(c.industry()), "|",
                                    static_cast<int>(c.buying_stage())));
        args.push_back(std::move(bytes));
        args.push_back(item.fingerprint);
        args.push_back(c.ruleset_version());
        args.push_back(item.with_reasons ? "1" : "0");
        args.push_back(absl::StrCat(
            TimeUtil::TimestampToMilliseconds(c.classified_time())));
        args.push_back(Score(c.potential_score()));
        args.push_back(Score(c.relationship_score()));
        args.push_back(absl::StrCat(c.opportunity_version()));
        args.push_back(f.call->now);
        args.push_back(f.call->keep);
        args.push_back(absl::StrCat(static_cast<int>(c.grade())));
        args.push_back(c.account_id());
        args.push_back(item.input);
        args.push_back(item.only_over_same_input ? "1" : "0");
        args.push_back(item.field_digests);
        args.push_back(item.contributions);
        batch.index.push_back(group[j]);
      }
      batch.commands.push_back(EvalSha(put_, tenant, "", std::move(args)));
      batch.sizes.push_back(end - start);
    }
  }
  return batch;
}

std::vector<absl::StatusOr<PutOutcome>> RedisResultStore::PutReplies(
    const PutBatch& batch, const std::vector<RedisReply>& replies) const {
  std::vector<absl::StatusOr<PutOutcome>> out(batch.index.size());
  size_t next = 0;
  for (size_t k = 0; k < batch.sizes.size(); ++k) {
    const RedisReply& r = replies[k];
    // One script call's error is its items' (a tenant's), not the batch's.
    const bool bad = r.type != RedisReply::Type::kArray ||
                     r.elements.size() != 5 * batch.sizes[k];
    for (size_t j = 0; j < batch.sizes[k]; ++j, ++next) {
      absl::StatusOr<PutOutcome>& o = out[batch.index[next]];
      if (bad) {
        o = ReplyError(r, "storing results");
        continue;
      }
      o = PutOutcome{.previous_cell = Str(r.elements[5 * j]),
                     .moved = r.elements[5 * j + 1].integer == 1,
                     .superseded = r.elements[5 * j + 2].integer == 1,
                     .current = r.elements[5 * j + 3].integer == 1,
                     .pin_patch = Str(r.elements[5 * j + 4])};
    }
  }
  return out;
}

absl::StatusOr<std::vector<PutOutcome>> RedisResultStore::Put(
    absl::Span<const PutItem> items, const PutOptions& options,
    absl::Time deadline) {
  return WaitFor<std::vector<PutOutcome>>([&](PutCallback done) {
    PutAsync(items, options, deadline, std::move(done));
  });
}

void RedisResultStore::PutAsync(absl::Span<const PutItem> items,
                                const PutOptions& options, absl::Time deadline,
                                PutCallback done) {
  if (items.empty()) {
    std::move(done)(std::vector<PutOutcome>());
    return;
  }
  std::vector<PendingPut> calls;
  calls.push_back({items, options, deadline, std::move(done)});
  if (options_.max_puts_in_flight > 0) {
    absl::MutexLock lock(&put_mu_);
    if (puts_in_flight_ >= options_.max_puts_in_flight) {
      // Sent with whatever else waits, when a put in flight is answered.
      pending_puts_.push_back(std::move(calls.front()));
      return;
    }
    ++puts_in_flight_;
  }
  SendPuts(std::move(calls));
}

void RedisResultStore::SendPuts(std::vector<PendingPut> calls) {
  // A call that waited past its deadline is answered now, unsent.
  const absl::Time now = absl::Now();
  std::vector<PendingPut> live;
  live.reserve(calls.size());
  for (PendingPut& c : calls) {
    if (c.deadline <= now) {
      std::move(c.done)(absl::DeadlineExceededError(
          "the store call waited for its turn past its deadline"));
    } else {
      live.push_back(std::move(c));
    }
  }
  if (live.empty()) {
    PassTurn();
    return;
  }
  std::vector<PutCall> puts;
  puts.reserve(live.size());
  absl::Time deadline = absl::InfiniteFuture();
  for (const PendingPut& c : live) {
    puts.push_back({c.items, c.options});
    deadline = std::min(deadline, c.deadline);
  }
  PutBatch batch = PutCommands(puts);
  std::vector<RedisCommand> commands = std::move(batch.commands);
  RunAsync(std::move(commands), deadline,
           [this, batch = std::move(batch), calls = std::move(live)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             PassTurn();  // what waited goes out first, then the answers
             std::vector<absl::StatusOr<PutOutcome>> all;
             if (replies.ok()) all = PutReplies(batch, *replies);
             size_t offset = 0;
             for (PendingPut& c : calls) {
               absl::Status failed = replies.status();
               std::vector<PutOutcome> mine;
               mine.reserve(c.items.size());
               for (size_t i = 0; failed.ok() && i < c.items.size(); ++i) {
                 absl::StatusOr<PutOutcome>& o = all[offset + i];
                 if (o.ok()) {
                   mine.push_back(*std::move(o));
                 } else {
                   failed = o.status();
                 }
               }
               offset += c.items.size();
               if (failed.ok()) {
                 std::move(c.done)(std::move(mine));
               } else {
                 std::move(c.done)(failed);
               }
             }
           });
}

void RedisResultStore::PassTurn() {
  if (options_.max_puts_in_flight <= 0) return;
  std::vector<PendingPut> next;
  {
    absl::MutexLock lock(&put_mu_);
    if (pending_puts_.empty()) {
      --puts_in_flight_;
      return;
    }
    next.swap(pending_puts_);
  }
  SendPuts(std::move(next));
}

RedisCommand RedisResultStore::GetCommand(absl::string_view tenant_id,
                                          absl::string_view id) const {
  return {"HMGET", absl::StrCat(TenantPrefix(tenant_id), "opp:", id), "c",
          "prev"};
}

absl::StatusOr<v1::Classification> RedisResultStore::GetReply(
    absl::string_view tenant_id, absl::string_view id, const RedisReply& r) {
  // c and prev, and maybe further fields (HistoryAsync's h).
  if (r.type != RedisReply::Type::kArray || r.elements.size() < 2) {
    return ReplyError(r, "HMGET");
  }
  if (IsNil(r.elements[0])) {
    return absl::NotFoundError(
        absl::StrCat("no stored classification for tenant \"", tenant_id,
                     "\" opportunity \"", id, "\""));
  }
  return ParseResult(Str(r.elements[0]), Str(r.elements[1]));
}

absl::StatusOr<v1::Classification> RedisResultStore::Get(
    absl::string_view tenant_id, absl::string_view id, absl::Time deadline) {
  return WaitFor<v1::Classification>([&](GetCallback done) {
    GetAsync(tenant_id, id, deadline, std::move(done));
  });
}

void RedisResultStore::HistoryAsync(absl::string_view tenant_id,
                                    absl::string_view id, absl::Time deadline,
                                    HistoryCallback done) {
  RedisCommand get = GetCommand(tenant_id, id);
  get.push_back("h");
  get.push_back("o");
  RedisCommand names = {"HGETALL",
                        absl::StrCat(TenantPrefix(tenant_id), "factors")};
  RunAsync({std::move(get), std::move(names)}, deadline,
           [tenant = std::string(tenant_id), opp = std::string(id),
            done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             const RedisReply& r = (*replies)[0];
             if (r.type != RedisReply::Type::kArray || r.elements.size() != 4) {
               std::move(done)(ReplyError(r, "HMGET"));
               return;
             }
             absl::StatusOr<v1::Classification> c = GetReply(tenant, opp, r);
             if (!c.ok()) {
               std::move(done)(c.status());
               return;
             }
             StoredHistory out{.classification = *std::move(c)};
             // The input is kept since the result was first written by a
             // version that stores it; bytes that do not parse are left
             // out as a bad history line is.
             if (!Str(r.elements[3]).empty() &&
                 !out.input.emplace().ParseFromString(Str(r.elements[3]))) {
               out.input.reset();
             }
             // The factor names by ruleset version (none when the reply
             // is not a hash's).
             absl::flat_hash_map<std::string, std::string> factor_names;
             const RedisReply& n = (*replies)[1];
             if (n.type == RedisReply::Type::kArray) {
               for (size_t i = 0; i + 1 < n.elements.size(); i += 2) {
                 factor_names[n.elements[i].str] = n.elements[i + 1].str;
               }
             }
             // A line that does not parse is left out: the history
             // explains the result, it must not make it unreadable.
             for (absl::string_view line :
                  absl::StrSplit(Str(r.elements[2]), '\n', absl::SkipEmpty())) {
               std::optional<v1::HistoryEntry> e =
                   ParseHistoryLine(line, factor_names);
               if (e.has_value()) out.entries.push_back(*std::move(e));
             }
             std::move(done)(std::move(out));
           });
}

void RedisResultStore::AccountAsync(absl::string_view tenant_id,
                                    absl::string_view account_id,
                                    absl::Time now, int limit,
                                    absl::Time deadline, AccountCallback done) {
  RunAsync({EvalSha(account_, tenant_id, absl::StrCat("acct:", account_id),
                    {absl::StrCat(ToMillis(now)), absl::StrCat(limit)})},
           deadline,
           [done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             const RedisReply& r = (*replies)[0];
             if (r.type != RedisReply::Type::kArray || r.elements.empty() ||
                 r.elements.size() % 2 != 1) {
               std::move(done)(ReplyError(r, "reading an account"));
               return;
             }
             StoredAccount out{.total = r.elements[0].integer, .results = {}};
             for (size_t i = 1; i + 1 < r.elements.size(); i += 2) {
               absl::StatusOr<v1::Classification> c =
                   ParseResult(Str(r.elements[i]), Str(r.elements[i + 1]));
               if (!c.ok()) {
                 std::move(done)(c.status());
                 return;
               }
               out.results.push_back(*std::move(c));
             }
             std::move(done)(std::move(out));
           });
}

void RedisResultStore::GetAsync(absl::string_view tenant_id,
                                absl::string_view id, absl::Time deadline,
                                GetCallback done) {
  RunAsync({GetCommand(tenant_id, id)}, deadline,
           [tenant = std::string(tenant_id), opp = std::string(id),
            done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             std::move(done)(GetReply(tenant, opp, (*replies)[0]));
           });
}

absl::StatusOr<std::vector<DeleteOutcome>> RedisResultStore::Delete(
    absl::Span<const DeleteItem> items, absl::Time now, absl::Time deadline) {
  return WaitFor<std::vector<DeleteOutcome>>([&](DeleteCallback done) {
    DeleteAsync(items, now, deadline, std::move(done));
  });
}

void RedisResultStore::DeleteAsync(absl::Span<const DeleteItem> items,
                                   absl::Time now, absl::Time deadline,
                                   DeleteCallback done) {
  if (items.empty()) {
    std::move(done)(std::vector<DeleteOutcome>());
    return;
  }
  // One script call per tenant (per kPutChunk items), in order of the
  // tenants' first appearance; `index` maps the replies back to items.
  std::vector<std::vector<size_t>> groups;
  absl::flat_hash_map<absl::string_view, size_t> group_of;
  for (size_t i = 0; i < items.size(); ++i) {
    auto [it, added] = group_of.try_emplace(items[i].tenant_id, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  const std::string now_ms = absl::StrCat(ToMillis(now));
  std::vector<RedisCommand> cmds;
  std::vector<size_t> index;
  std::vector<size_t> sizes;
  for (const std::vector<size_t>& group : groups) {
    const std::string& tenant = items[group[0]].tenant_id;
    for (size_t start = 0; start < group.size(); start += kPutChunk) {
      const size_t end = std::min(group.size(), start + kPutChunk);
      std::vector<std::string> args;
      args.reserve(4 + 2 * (end - start));
      args.push_back(now_ms);
      args.push_back(absl::StrCat(options_.transitions_max_len));
      args.push_back(tenant);
      // A tombstone is kept as long as a result would be.
      args.push_back(absl::StrCat(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(options_.result_ttl))));
      for (size_t j = start; j < end; ++j) {
        const DeleteItem& item = items[group[j]];
        args.push_back(item.opportunity_id);
        args.push_back(absl::StrCat(std::max<int64_t>(item.version, 0)));
        index.push_back(group[j]);
      }
      cmds.push_back(EvalSha(delete_, tenant, "", std::move(args)));
      sizes.push_back(end - start);
    }
  }
  RunAsync(std::move(cmds), deadline,
           [n = items.size(), index = std::move(index),
            sizes = std::move(sizes), done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             std::vector<DeleteOutcome> out(n);
             size_t next = 0;
             for (size_t k = 0; k < sizes.size(); ++k) {
               const RedisReply& r = (*replies)[k];
               if (r.type != RedisReply::Type::kArray ||
                   r.elements.size() != 2 * sizes[k]) {
                 std::move(done)(ReplyError(r, "deleting results"));
                 return;
               }
               for (size_t j = 0; j < sizes[k]; ++j, ++next) {
                 DeleteOutcome& o = out[index[next]];
                 o.deleted = r.elements[2 * j].integer == 1;
                 o.superseded = r.elements[2 * j].integer == 2;
                 o.from_cell = Str(r.elements[2 * j + 1]);
               }
             }
             std::move(done)(std::move(out));
           });
}

absl::StatusOr<std::vector<StoredCell>> RedisResultStore::Matrix(
    absl::string_view tenant_id, const MatrixFilter& filter, int top_n,
    absl::Time now, absl::Time deadline) {
  return WaitFor<std::vector<StoredCell>>([&](MatrixCallback done) {
    MatrixAsync(tenant_id, filter, top_n, now, deadline, std::move(done));
  });
}

absl::StatusOr<std::vector<StoredCell>> RedisResultStore::TotalsReply(
    const RedisReply& r) {
  if (r.type != RedisReply::Type::kArray || r.elements.empty()) {
    return ReplyError(r, "reading the matrix");
  }
  std::map<std::string, StoredCell> by_cell;
  const std::vector<RedisReply>& stats = r.elements[0].elements;
  for (size_t i = 0; i + 1 < stats.size(); i += 2) {
    absl::string_view field = stats[i].str;
    int64_t value = 0;
    if (!absl::SimpleAtoi(stats[i + 1].str, &value)) continue;
    if (absl::ConsumeSuffix(&field, ":n")) {
      by_cell[std::string(field)].count = value;
    } else if (absl::ConsumeSuffix(&field, ":amt")) {
      by_cell[std::string(field)].amount_cents = value;
    }
  }
  for (size_t i = 1; i < r.elements.size(); ++i) {
    const RedisReply& entry = r.elements[i];
    if (entry.elements.size() != 2) return ReplyError(entry, "matrix top");
    StoredCell& cell = by_cell[entry.elements[0].str];
    const std::vector<RedisReply>& top = entry.elements[1].elements;
    for (size_t j = 0; j + 1 < top.size(); j += 2) {
      OPPMATRIX_ASSIGN_OR_RETURN(v1::Classification c,
                                 ParseResult(top[j].str, top[j + 1].str));
      cell.top.push_back(std::move(c));
    }
  }
  std::vector<StoredCell> cells;
  for (auto& [id, cell] : by_cell) {
    if (cell.count <= 0) continue;
    cell.cell = id;
    cells.push_back(std::move(cell));
  }
  return cells;
}

void RedisResultStore::MatrixAsync(absl::string_view tenant_id,
                                   const MatrixFilter& filter, int top_n,
                                   absl::Time now, absl::Time deadline,
                                   MatrixCallback done) {
  const std::string now_ms = absl::StrCat(ToMillis(now));
  if (filter.empty()) {
    // The running totals answer directly: O(cells + top_n).
    RunAsync({EvalSha(matrix_, tenant_id, "", {now_ms, absl::StrCat(top_n)})},
             deadline,
             [done = std::move(done)](
                 absl::StatusOr<std::vector<RedisReply>> replies) mutable {
               if (!replies.ok()) {
                 std::move(done)(replies.status());
                 return;
               }
               std::move(done)(TotalsReply((*replies)[0]));
             });
    return;
  }
  // Filtered: one pass over the tenant's members, O(opportunities), then
  // one more round trip for the top n of each cell.
  const std::string prefix = TenantPrefix(tenant_id);
  RunAsync({EvalSha(matrix_, tenant_id, "", {now_ms, "0"}),
            {"HGETALL", absl::StrCat(prefix, "members")}},
           deadline,
           [this, prefix, filter, top_n, deadline, done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             FilteredMatrix(prefix, filter, top_n, deadline,
                            std::move((*replies)[0]), std::move((*replies)[1]),
                            std::move(done));
           });
}

void RedisResultStore::FilteredMatrix(const std::string& prefix,
                                      const MatrixFilter& filter, int top_n,
                                      absl::Time deadline, RedisReply purged,
                                      RedisReply members_reply,
                                      MatrixCallback done) {
  if (purged.is_error()) {
    std::move(done)(ReplyError(purged, "purging"));
    return;
  }
  if (members_reply.type != RedisReply::Type::kArray) {
    std::move(done)(ReplyError(members_reply, "HGETALL"));
    return;
  }
  struct Candidate {
    double priority;
    const std::string* id;
  };
  std::map<std::string, StoredCell> by_cell;
  std::map<std::string, std::vector<Candidate>> candidates;
  const std::vector<RedisReply>& members = members_reply.elements;
  for (size_t i = 0; i + 1 < members.size(); i += 2) {
    Member m;
    if (!ParseMember(members[i + 1].str, &m)) continue;
    if ((filter.customer_type != v1::CUSTOMER_TYPE_UNSPECIFIED &&
         m.customer_type != filter.customer_type) ||
        (filter.industry != v1::INDUSTRY_UNSPECIFIED &&
         m.industry != filter.industry) ||
        (filter.buying_stage != v1::BUYING_STAGE_UNSPECIFIED &&
         m.buying_stage != filter.buying_stage)) {
      continue;
    }
    StoredCell& cell = by_cell[m.cell];
    ++cell.count;
    cell.amount_cents += m.cents;
    if (top_n > 0) candidates[m.cell].push_back({m.priority, &members[i].str});
  }
  // Top n per cell, in the sorted sets' order: priority, then id, both
  // descending.
  std::vector<RedisCommand> fetch;
  std::vector<std::string> fetch_cell;
  for (auto& [cell, list] : candidates) {
    size_t n = std::min(list.size(), static_cast<size_t>(top_n));
    std::partial_sort(list.begin(), list.begin() + n, list.end(),
                      [](const Candidate& a, const Candidate& b) {
                        if (a.priority != b.priority) {
                          return a.priority > b.priority;
                        }
                        return *a.id > *b.id;
                      });
    for (size_t j = 0; j < n; ++j) {
      fetch.push_back(
          {"HMGET", absl::StrCat(prefix, "opp:", *list[j].id), "c", "prev"});
      fetch_cell.push_back(cell);
    }
  }
  auto finish = [](std::map<std::string, StoredCell> by_cell) {
    std::vector<StoredCell> cells;
    for (auto& [id, cell] : by_cell) {
      cell.cell = id;
      cells.push_back(std::move(cell));
    }
    return cells;
  };
  if (fetch.empty()) {
    std::move(done)(finish(std::move(by_cell)));
    return;
  }
  RunAsync(std::move(fetch), deadline,
           [by_cell = std::move(by_cell), fetch_cell = std::move(fetch_cell),
            finish, done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> tops) mutable {
             if (!tops.ok()) {
               std::move(done)(tops.status());
               return;
             }
             for (size_t j = 0; j < tops->size(); ++j) {
               const RedisReply& t = (*tops)[j];
               if (t.elements.size() != 2 || IsNil(t.elements[0])) continue;
               absl::StatusOr<v1::Classification> c =
                   ParseResult(t.elements[0].str, t.elements[1].str);
               if (!c.ok()) {
                 std::move(done)(c.status());
                 return;
               }
               by_cell[fetch_cell[j]].top.push_back(*std::move(c));
             }
             std::move(done)(finish(std::move(by_cell)));
           });
}

absl::StatusOr<ResultPage> RedisResultStore::List(absl::string_view tenant_id,
                                                  absl::string_view cell,
                                                  int page_size,
                                                  absl::string_view page_token,
                                                  absl::Time deadline) {
  return WaitFor<ResultPage>([&](ListCallback done) {
    ListAsync(tenant_id, cell, page_size, page_token, deadline,
              std::move(done));
  });
}

void RedisResultStore::ListAsync(absl::string_view tenant_id,
                                 absl::string_view cell, int page_size,
                                 absl::string_view page_token,
                                 absl::Time deadline, ListCallback done) {
  if (page_size < 1) {
    std::move(done)(
        absl::InvalidArgumentError("page_size: must be at least 1"));
    return;
  }
  std::string score = "0", id;
  if (!page_token.empty()) {
    absl::StatusOr<CellCursor> cursor =
        DecodeCellPageToken(page_token, tenant_id, cell);
    if (!cursor.ok()) {
      std::move(done)(cursor.status());
      return;
    }
    score = ScoreArgument(cursor->score);
    id = std::move(cursor->opportunity_id);
  }
  RunAsync({EvalSha(list_, tenant_id, absl::StrCat("cell:", cell),
                    {score, id, absl::StrCat(page_size)})},
           deadline,
           [tenant = std::string(tenant_id), cell = std::string(cell),
            done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             std::move(done)(ListReply(tenant, cell, (*replies)[0]));
           });
}

absl::StatusOr<ResultPage> RedisResultStore::ListReply(
    absl::string_view tenant_id, absl::string_view cell, const RedisReply& r) {
  if (r.type != RedisReply::Type::kArray || r.elements.size() != 4) {
    return ReplyError(r, "listing a cell");
  }
  ResultPage page;
  const std::vector<RedisReply>& entries = r.elements[1].elements;
  for (size_t i = 0; i + 3 < entries.size(); i += 4) {
    OPPMATRIX_ASSIGN_OR_RETURN(
        v1::Classification c,
        ParseResult(entries[i + 2].str, entries[i + 3].str));
    page.classifications.push_back(std::move(c));
  }
  if (r.elements[0].integer == 1) {
    CellCursor next{.score = 0, .opportunity_id = r.elements[2].str};
    if (!absl::SimpleAtod(r.elements[3].str, &next.score)) {
      return ReplyError(r.elements[3], "a cell's score");
    }
    page.next_page_token = EncodeCellPageToken(tenant_id, cell, next);
  }
  return page;
}

absl::StatusOr<TransitionPage> RedisResultStore::Transitions(
    absl::string_view tenant_id, int page_size, absl::string_view page_token,
    absl::Time deadline) {
  return WaitFor<TransitionPage>([&](TransitionsCallback done) {
    TransitionsAsync(tenant_id, page_size, page_token, deadline,
                     std::move(done));
  });
}

void RedisResultStore::TransitionsAsync(absl::string_view tenant_id,
                                        int page_size,
                                        absl::string_view page_token,
                                        absl::Time deadline,
                                        TransitionsCallback done) {
  if (page_size < 1) {
    std::move(done)(
        absl::InvalidArgumentError("page_size: must be at least 1"));
    return;
  }
  std::string end = "+";
  if (!page_token.empty()) {
    absl::StatusOr<StreamCursor> cursor =
        DecodeTransitionPageToken(page_token, tenant_id);
    if (!cursor.ok()) {
      std::move(done)(cursor.status());
      return;
    }
    end = absl::StrCat("(", cursor->ToString());
  }
  RunAsync(
      {{"XREVRANGE", absl::StrCat(TenantPrefix(tenant_id), "transitions"), end,
        "-", "COUNT", absl::StrCat(page_size + 1)}},
      deadline,
      [tenant = std::string(tenant_id), page_size, done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> replies) mutable {
        if (!replies.ok()) {
          std::move(done)(replies.status());
          return;
        }
        std::move(done)(TransitionsReply(tenant, page_size, (*replies)[0]));
      });
}

absl::StatusOr<TransitionPage> RedisResultStore::TransitionsReply(
    absl::string_view tenant_id, int page_size, const RedisReply& r) {
  if (r.type != RedisReply::Type::kArray) {
    return ReplyError(r, "XREVRANGE");
  }
  TransitionPage page;
  for (size_t i = 0; i < r.elements.size(); ++i) {
    const RedisReply& entry = r.elements[i];
    if (entry.elements.size() != 2) return ReplyError(entry, "stream entry");
    if (static_cast<int>(i) == page_size) {
      std::optional<std::pair<uint64_t, uint64_t>> last =
          ParseStreamId(page.transitions.back().id());
      if (!last.has_value()) return ReplyError(entry, "stream entry id");
      page.next_page_token = EncodeTransitionPageToken(
          tenant_id, {.ms = last->first, .seq = last->second});
      break;
    }
    v1::Transition t;
    t.set_id(entry.elements[0].str);
    const std::vector<RedisReply>& f = entry.elements[1].elements;
    for (size_t j = 0; j + 1 < f.size(); j += 2) {
      const std::string& k = f[j].str;
      const std::string& v = f[j + 1].str;
      double d = 0;
      int64_t ms = 0;
      if (k == "tenant") {
        t.set_tenant_id(v);
      } else if (k == "opportunity") {
        t.set_opportunity_id(v);
      } else if (k == "from") {
        t.set_from_cell(v);
      } else if (k == "to") {
        t.set_to_cell(v);
      } else if (k == "potential" && absl::SimpleAtod(v, &d)) {
        t.set_potential_score(d);
      } else if (k == "relationship" && absl::SimpleAtod(v, &d)) {
        t.set_relationship_score(d);
      } else if (k == "priority" && absl::SimpleAtod(v, &d)) {
        t.set_priority_score(d);
      } else if (k == "ruleset") {
        t.set_ruleset_version(v);
      } else if (k == "cause") {
        t.set_cause(v);
      } else if (k == "fields") {
        for (std::string& name : FieldPathNames(v)) {
          t.add_changed_fields(std::move(name));
        }
      } else if (k == "time" && absl::SimpleAtoi(v, &ms)) {
        *t.mutable_time() = TimeUtil::MillisecondsToTimestamp(ms);
      }
    }
    page.transitions.push_back(std::move(t));
  }
  return page;
}

namespace {

// An answer of kInputs or kPinsDue.
absl::StatusOr<InputPage> InputsReply(
    absl::StatusOr<std::vector<RedisReply>> replies) {
  if (!replies.ok()) return replies.status();
  RedisReply& r = (*replies)[0];
  if (r.type != RedisReply::Type::kArray || r.elements.empty() ||
      r.elements.size() % 3 != 1) {
    return ReplyError(r, "inputs");
  }
  InputPage page;
  page.entries.reserve(r.elements.size() / 3);
  for (size_t i = 1; i + 2 < r.elements.size(); i += 3) {
    page.entries.push_back({std::move(r.elements[i].str),
                            std::move(r.elements[i + 1].str),
                            std::move(r.elements[i + 2].str)});
  }
  if (r.elements[0].str != "0") page.cursor = r.elements[0].str;
  return page;
}

// A step of a walk by SCAN or HSCAN: its cursor and COUNT hint.
absl::Status CheckWalkStep(absl::string_view cursor, int count) {
  if (count < 1 || count > 1000) {
    return absl::InvalidArgumentError("count: must be 1 to 1000");
  }
  if (!cursor.empty() && !absl::c_all_of(cursor, absl::ascii_isdigit)) {
    return absl::InvalidArgumentError("cursor: not a cursor");
  }
  return absl::OkStatus();
}

}  // namespace

void RedisResultStore::InputsAsync(absl::string_view tenant_id,
                                   absl::string_view cursor, int count,
                                   absl::Time classified_before,
                                   absl::Time deadline, InputsCallback done) {
  if (absl::Status s = CheckWalkStep(cursor, count); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  RunAsync({EvalSha(inputs_, tenant_id, "",
                    {cursor.empty() ? std::string("0") : std::string(cursor),
                     absl::StrCat(count),
                     classified_before == absl::InfiniteFuture()
                         ? std::string()
                         : absl::StrCat(ToMillis(classified_before))})},
           deadline,
           [done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             std::move(done)(InputsReply(std::move(replies)));
           });
}

void RedisResultStore::PinsDueAsync(absl::string_view tenant_id, absl::Time now,
                                    int count, absl::Time deadline,
                                    InputsCallback done) {
  if (absl::Status s = CheckWalkStep("", count); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  RunAsync({EvalSha(pins_due_, tenant_id, "",
                    {absl::StrCat(ToMillis(now)), absl::StrCat(count)})},
           deadline,
           [done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             std::move(done)(InputsReply(std::move(replies)));
           });
}

void RedisResultStore::PinAsync(const PinChange& pin, const PutItem& item,
                                const PutOptions& options, absl::Time deadline,
                                PinCallback done) {
  std::vector<RedisCommand> cmds;
  cmds.push_back(
      EvalSha(pin_, pin.tenant_id, "",
              {pin.opportunity_id, pin.cell,
               pin.cell.empty() ? std::string("0")
                                : absl::StrCat(ToMillis(pin.expire_time)),
               pin.patch, item.fingerprint}));
  // The tenant's earliest pin expiry, for the sweep (another key: a
  // command of its own).
  const bool with_due = !pin.cell.empty();
  if (with_due) {
    cmds.push_back({"ZADD", PinnedTenantsKey(), "LT",
                    absl::StrCat(ToMillis(pin.expire_time)), pin.tenant_id});
  }
  const PutCall call{.items = absl::MakeConstSpan(&item, 1),
                     .options = options};
  auto batch = std::make_shared<PutBatch>(PutCommands({&call, 1}));
  for (RedisCommand& c : batch->commands) cmds.push_back(std::move(c));
  batch->commands.clear();
  RunAsync(std::move(cmds), deadline,
           [this, batch, with_due, done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             if ((*replies)[0].type != RedisReply::Type::kInteger) {
               std::move(done)(ReplyError((*replies)[0], "pin"));
               return;
             }
             if (with_due && (*replies)[1].is_error()) {
               std::move(done)(ReplyError((*replies)[1], "ZADD"));
               return;
             }
             PinOutcome out{.found = (*replies)[0].integer != 0,
                            .changed = (*replies)[0].integer == 2};
             std::vector<RedisReply> rest(
                 std::make_move_iterator(replies->begin() + (with_due ? 2 : 1)),
                 std::make_move_iterator(replies->end()));
             std::vector<absl::StatusOr<PutOutcome>> put =
                 PutReplies(*batch, rest);
             if (put.size() != 1 || !put[0].ok()) {
               std::move(done)(put.empty() ? absl::InternalError("redis pin")
                                           : put[0].status());
               return;
             }
             out.put = *std::move(put[0]);
             std::move(done)(std::move(out));
           });
}

void RedisResultStore::TenantsAsync(absl::string_view cursor, int count,
                                    absl::Time deadline, TenantsCallback done) {
  if (absl::Status s = CheckWalkStep(cursor, count); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  // Every tenant with results has its members hash; the prefix's own glob
  // characters are matched as themselves.
  std::string pattern;
  for (char c : options_.key_prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      pattern += '\\';
    }
    pattern += c;
  }
  const std::string head = absl::StrCat(options_.key_prefix, ":{");
  absl::StrAppend(&pattern, ":{*}:members");
  RunAsync({{"SCAN", cursor.empty() ? std::string("0") : std::string(cursor),
             "MATCH", pattern, "COUNT", absl::StrCat(count)}},
           deadline,
           [head, done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             RedisReply& r = (*replies)[0];
             if (r.type != RedisReply::Type::kArray || r.elements.size() != 2 ||
                 r.elements[1].type != RedisReply::Type::kArray) {
               std::move(done)(ReplyError(r, "SCAN"));
               return;
             }
             TenantPage page;
             for (const RedisReply& key : r.elements[1].elements) {
               absl::string_view k = key.str;
               // "<prefix>:{<tenant>}:members", tenant without braces.
               if (absl::ConsumePrefix(&k, head) &&
                   absl::ConsumeSuffix(&k, "}:members") && !k.empty() &&
                   !absl::StrContains(k, '}')) {
                 page.tenants.emplace_back(k);
               }
             }
             if (r.elements[0].str != "0") page.cursor = r.elements[0].str;
             std::move(done)(std::move(page));
           });
}

void RedisResultStore::PinnedTenantsAsync(absl::Time now, int count,
                                          absl::Time deadline,
                                          TenantsDueCallback done) {
  if (absl::Status s = CheckWalkStep("", count); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  RunAsync({{"ZRANGEBYSCORE", PinnedTenantsKey(), "-inf",
             absl::StrCat(ToMillis(now)), "LIMIT", "0", absl::StrCat(count)}},
           deadline,
           [done = std::move(done)](
               absl::StatusOr<std::vector<RedisReply>> replies) mutable {
             if (!replies.ok()) {
               std::move(done)(replies.status());
               return;
             }
             RedisReply& r = (*replies)[0];
             if (r.type != RedisReply::Type::kArray) {
               std::move(done)(ReplyError(r, "ZRANGEBYSCORE"));
               return;
             }
             std::vector<std::string> tenants;
             for (RedisReply& e : r.elements) {
               tenants.push_back(std::move(e.str));
             }
             std::move(done)(std::move(tenants));
           });
}

void RedisResultStore::SettlePinsAsync(absl::string_view tenant_id,
                                       absl::Time deadline,
                                       StatusCallback done) {
  // The earliest pin left, then the tenant's entry set to it (or removed);
  // then read again and lowered, for a pin that came in between (PinAsync
  // lowers the entry itself after its own pin).
  const std::string pins = absl::StrCat(TenantPrefix(tenant_id), "pins");
  const std::string tenant(tenant_id);
  auto earliest = [](const RedisReply& r) -> std::optional<std::string> {
    if (r.type != RedisReply::Type::kArray || r.elements.size() < 2) {
      return std::nullopt;
    }
    return r.elements[1].str;
  };
  RunAsync(
      {{"ZRANGE", pins, "0", "0", "WITHSCORES"}}, deadline,
      [this, pins, tenant, earliest, deadline, done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> first) mutable {
        if (!first.ok()) {
          std::move(done)(first.status());
          return;
        }
        std::optional<std::string> next = earliest((*first)[0]);
        RedisCommand set =
            next.has_value()
                ? RedisCommand{"ZADD", PinnedTenantsKey(), *next, tenant}
                : RedisCommand{"ZREM", PinnedTenantsKey(), tenant};
        RunAsync(
            {std::move(set), {"ZRANGE", pins, "0", "0", "WITHSCORES"}},
            deadline,
            [this, tenant, earliest, deadline, done = std::move(done)](
                absl::StatusOr<std::vector<RedisReply>> again) mutable {
              if (!again.ok()) {
                std::move(done)(again.status());
                return;
              }
              std::optional<std::string> now = earliest((*again)[1]);
              if (!now.has_value()) {
                std::move(done)(absl::OkStatus());
                return;
              }
              RunAsync(
                  {{"ZADD", PinnedTenantsKey(), "LT", *now, tenant}}, deadline,
                  [done = std::move(done)](
                      absl::StatusOr<std::vector<RedisReply>> r) mutable {
                    std::move(done)(r.ok() ? absl::OkStatus() : r.status());
                  });
            });
      });
}

}  // namespace oppmatrix
