#include "services/ingestion/dead_letters.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "oppmatrix/v1/crm_event.pb.h"
#include "services/common/wait_for.h"
#include "services/ingestion/crm_event.h"
#include "services/ingestion/redis_stream_source.h"

namespace oppmatrix {
namespace {

DeadLetterEntry ToEntry(const RedisReply& entry) {
  DeadLetterEntry e;
  e.id = entry.elements[0].str;
  const std::vector<RedisReply>& fields = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& k = fields[i].str;
    const std::string& v = fields[i + 1].str;
    int64_t n = 0;
    namespace f = dead_letter_field;
    if (k == f::kEvent) e.event = v;
    if (k == f::kContentType) e.content_type = v;
    if (k == f::kReason) e.reason = v;
    if (k == f::kDeliveries && absl::SimpleAtoi(v, &n)) e.deliveries = n;
    if (k == f::kSourceStream) e.source_stream = v;
    if (k == f::kSourceId) e.source_id = v;
    if (k == f::kTime && absl::SimpleAtoi(v, &n)) {
      e.time = absl::FromUnixMillis(n);
    }
  }
  return e;
}

// The eventId of a JSON payload; "" when it has none or is not JSON.
std::string EventIdOf(const std::string& payload,
                      const std::string& content_type) {
  if (!content_type.empty() && content_type != kJsonContentType) {
    v1::CrmEvent event;
    return event.ParseFromString(payload) ? event.event_id() : "";
  }
  google::protobuf::Struct event;
  if (!google::protobuf::util::JsonStringToMessage(payload, &event).ok()) {
    return "";
  }
  auto it = event.fields().find("eventId");
  if (it == event.fields().end()) it = event.fields().find("event_id");
  if (it == event.fields().end()) return "";
  return it->second.string_value();
}

}  // namespace

std::string ReasonPattern(absl::string_view reason) {
  std::string out;
  out.reserve(reason.size());
  for (size_t i = 0; i < reason.size(); ++i) {
    const char c = reason[i];
    if (c == '"') {
      const size_t close = reason.find('"', i + 1);
      if (close == absl::string_view::npos) {
        absl::StrAppend(&out, reason.substr(i));
        break;
      }
      out.append("\"…\"");
      i = close;
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
               (c == '-' && i + 1 < reason.size() &&
                absl::ascii_isdigit(
                    static_cast<unsigned char>(reason[i + 1])) &&
                (i == 0 || reason[i - 1] == ' '))) {
      // A number (with its sign and decimals) is one "N".
      size_t j = i + 1;
      while (j < reason.size() &&
             (absl::ascii_isdigit(static_cast<unsigned char>(reason[j])) ||
              reason[j] == '.')) {
        ++j;
      }
      // Inside a word (e.g. "iso_3166" or "v2") digits stay.
      const bool in_word =
          i > 0 &&
          (absl::ascii_isalpha(static_cast<unsigned char>(reason[i - 1])) ||
           reason[i - 1] == '_');
      if (in_word) {
        absl::StrAppend(&out, reason.substr(i, j - i));
      } else {
        out.push_back('N');
      }
      i = j - 1;
    } else if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      // Parser messages span lines; one space keeps a group on one line.
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::vector<std::string> DeadLetterFields(const BusEvent& event,
                                          absl::string_view reason,
                                          absl::string_view source_stream,
                                          absl::Time now) {
  namespace f = dead_letter_field;
  std::vector<std::string> out = {
      f::kEvent,        event.payload,
      f::kReason,       std::string(reason),
      f::kDeliveries,   absl::StrCat(event.deliveries),
      f::kSourceStream, std::string(source_stream),
      f::kSourceId,     event.id,
      f::kTime,         absl::StrCat(absl::ToUnixMillis(now))};
  if (!event.content_type.empty()) {
    out.push_back(f::kContentType);
    out.push_back(event.content_type);
  }
  return out;
}

void DeadLetterSummarizer::Add(const DeadLetterEntry& e) {
  std::string pattern = ReasonPattern(e.reason);
  DeadLetterGroup& g = groups_[pattern];
  if (g.count == 0) {
    g.reason = std::move(pattern);
    g.example_reason = e.reason;
    g.example_id = e.id;
    g.example_event_id = EventIdOf(e.event, e.content_type);
  }
  ++g.count;
  g.first = std::min(g.first, e.time);
  g.last = std::max(g.last, e.time);
}

std::vector<DeadLetterGroup> DeadLetterSummarizer::Groups() const {
  std::vector<DeadLetterGroup> out;
  out.reserve(groups_.size());
  for (const auto& [pattern, g] : groups_) out.push_back(g);
  std::sort(out.begin(), out.end(),
            [](const DeadLetterGroup& a, const DeadLetterGroup& b) {
              if (a.count != b.count) return a.count > b.count;
              return a.reason < b.reason;
            });
  return out;
}

std::vector<DeadLetterGroup> SummarizeDeadLetters(
    const std::vector<DeadLetterEntry>& entries) {
  DeadLetterSummarizer summarizer;
  for (const DeadLetterEntry& e : entries) summarizer.Add(e);
  return summarizer.Groups();
}

namespace {

constexpr int kPage = 500;

// KEYS: 1 the dead-letter stream, 2 the event stream. ARGV: 1 the entry's
// id, 2 and 3 the event stream's event and content-type fields, 4 its
// MAXLEN (0: none), 5 and 6 the dead letter's. One entry, atomically: its
// event (with its content type, if it had one) back on the event stream,
// then the entry removed. A refused XADD (Redis out of memory) stops the
// script before the XDEL, so the entry stays; a second replay of the same
// entry finds it gone. Returns 1 replayed, 0 no event (left), -1 not there.
constexpr char kReplayScript[] = R"lua(
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return -1 end
local f = e[1][2]
local event, ct = nil, nil
for i = 1, #f, 2 do
  if f[i] == ARGV[5] then event = f[i + 1] end
  if f[i] == ARGV[6] then ct = f[i + 1] end
end
if not event or event == '' then return 0 end
local fields = {ARGV[2], event}
if ct and ct ~= '' then
  fields[3] = ARGV[3]
  fields[4] = ct
end
if tonumber(ARGV[4]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
else
  redis.call('XADD', KEYS[2], '*', unpack(fields))
end
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
)lua";

// Redis's own text stays in the logs' domain: callers get what failed.
absl::Status ReplyStatus(const RedisReply& r, absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": unexpected reply from Redis",
                                          r.is_error() ? " (an error)" : ""));
}

}  // namespace

DeadLetterQueue::DeadLetterQueue(AsyncRedis* redis, Options options)
    : redis_(redis), options_(std::move(options)) {}

void DeadLetterQueue::ListAsync(int count, const std::string& after,
                                ListCallback done) {
  ListAsync(count, after, "", std::move(done));
}

void DeadLetterQueue::ListAsync(int count, const std::string& after,
                                const std::string& until, ListCallback done) {
  redis_->Pipeline(
      {{"XRANGE", options_.dead_letter_stream,
        after.empty() ? "-" : absl::StrCat("(", after),
        until.empty() ? "+" : until, "COUNT", absl::StrCat(count)}},
      absl::Now() + options_.timeout,
      [done =
           std::move(done)](absl::StatusOr<std::vector<RedisReply>> r) mutable {
        if (!r.ok()) {
          std::move(done)(r.status());
          return;
        }
        const RedisReply& reply = (*r)[0];
        if (reply.is_error()) {
          std::move(done)(ReplyStatus(reply, "reading the dead letters"));
          return;
        }
        std::vector<DeadLetterEntry> out;
        for (const RedisReply& entry : reply.elements) {
          if (entry.elements.size() == 2) out.push_back(ToEntry(entry));
        }
        std::move(done)(std::move(out));
      });
}

namespace {

// Whether `cancelled` says so; CANCELLED naming what stopped.
bool StopIfCancelled(DeadLetterQueue::Cancelled& cancelled,
                     absl::string_view what, absl::Status* status) {
  if (cancelled == nullptr || !cancelled()) return false;
  *status = absl::CancelledError(
      absl::StrCat(what, " stopped: the caller cancelled"));
  return true;
}

}  // namespace

struct DeadLetterQueue::SummaryState {
  int64_t max_entries = 0;
  Cancelled cancelled;
  DeadLetterSummarizer summarizer;
  Summary summary;
  std::string after;
  SummaryCallback done;
};

void DeadLetterQueue::SummarizeAsync(int64_t max_entries, SummaryCallback done,
                                     Cancelled cancelled) {
  auto state = std::make_shared<SummaryState>();
  state->max_entries = max_entries;
  state->done = std::move(done);
  state->cancelled = std::move(cancelled);
  SummarizePage(std::move(state));
}

void DeadLetterQueue::SummarizePage(std::shared_ptr<SummaryState> state) {
  if (absl::Status stop;
      StopIfCancelled(state->cancelled, "the summary", &stop)) {
    std::move(state->done)(stop);
    return;
  }
  const int64_t left = state->max_entries - state->summary.entries;
  // One more than the limit tells whether the stream holds more.
  const int want = static_cast<int>(std::min<int64_t>(kPage, left + 1));
  std::string after = state->after;
  ListAsync(want, after,
            [this, state = std::move(state), want,
             left](absl::StatusOr<std::vector<DeadLetterEntry>> page) mutable {
              if (!page.ok()) {
                std::move(state->done)(page.status());
                return;
              }
              const int64_t take =
                  std::min<int64_t>(left, static_cast<int64_t>(page->size()));
              for (int64_t i = 0; i < take; ++i) {
                state->summarizer.Add((*page)[i]);
              }
              state->summary.entries += take;
              if (static_cast<int64_t>(page->size()) > left) {
                state->summary.truncated = true;
              }
              if (!page->empty()) state->after = page->back().id;
              if (state->summary.truncated ||
                  static_cast<int>(page->size()) < want ||
                  state->summary.entries >= state->max_entries) {
                state->summary.groups = state->summarizer.Groups();
                std::move(state->done)(std::move(state->summary));
                return;
              }
              SummarizePage(std::move(state));
            });
}

void DeadLetterQueue::ReplayAsync(std::vector<std::string> ids,
                                  ReplayCallback done) {
  // Each id once: asked twice, an entry is still replayed once.
  {
    absl::flat_hash_set<std::string> seen;
    std::vector<std::string> unique;
    for (std::string& id : ids) {
      if (seen.insert(id).second) unique.push_back(std::move(id));
    }
    ids = std::move(unique);
  }
  if (ids.empty()) {
    std::move(done)(Replayed{});
    return;
  }
  // First every id is looked up, so that an unknown one replays nothing;
  // then one script per entry.
  std::vector<RedisCommand> reads;
  reads.reserve(ids.size());
  for (const std::string& id : ids) {
    reads.push_back({"XRANGE", options_.dead_letter_stream, id, id});
  }
  redis_->Pipeline(
      std::move(reads), absl::Now() + options_.timeout,
      [this, ids = std::move(ids), done = std::move(done)](
          absl::StatusOr<std::vector<RedisReply>> found) mutable {
        if (!found.ok()) {
          std::move(done)(found.status());
          return;
        }
        for (size_t i = 0; i < ids.size(); ++i) {
          const RedisReply& r = (*found)[i];
          if (r.is_error()) {
            std::move(done)(ReplyStatus(r, "reading a dead letter"));
            return;
          }
          if (r.elements.size() != 1) {
            std::move(done)(
                absl::NotFoundError(absl::StrCat("no dead letter ", ids[i])));
            return;
          }
        }
        std::vector<RedisCommand> scripts;
        scripts.reserve(ids.size());
        const std::string max_len =
            absl::StrCat(std::max<int64_t>(options_.stream_max_len, 0));
        for (const std::string& id : ids) {
          scripts.push_back(
              {"EVAL", kReplayScript, "2", options_.dead_letter_stream,
               options_.stream, id, kEventField, kContentTypeField, max_len,
               dead_letter_field::kEvent, dead_letter_field::kContentType});
        }
        const int64_t requested = static_cast<int64_t>(ids.size());
        redis_->Pipeline(
            std::move(scripts), absl::Now() + options_.timeout,
            [requested, done = std::move(done)](
                absl::StatusOr<std::vector<RedisReply>> r) mutable {
              if (!r.ok()) {
                std::move(done)(r.status());
                return;
              }
              Replayed out;
              out.requested = requested;
              for (const RedisReply& reply : *r) {
                // Entries around a failed one are replayed; it stays.
                if (reply.is_error()) {
                  std::move(done)(ReplyStatus(reply, "replaying"));
                  return;
                }
                if (reply.integer == 1) ++out.replayed;
              }
              std::move(done)(out);
            });
      });
}

struct DeadLetterQueue::ReplayAllState {
  Replayed total;
  std::string after;
  // The newest entry when the replay began: entries dead-lettered again
  // meanwhile (events that fail again) come after it and are left, so
  // the replay ends.
  std::string last;
  ReplayCallback done;
  Cancelled cancelled;
};

void DeadLetterQueue::ReplayAllAsync(ReplayCallback done, Cancelled cancelled) {
  auto state = std::make_shared<ReplayAllState>();
  state->done = std::move(done);
  state->cancelled = std::move(cancelled);
  redis_->Pipeline(
      {{"XREVRANGE", options_.dead_letter_stream, "+", "-", "COUNT", "1"}},
      absl::Now() + options_.timeout,
      [this, state = std::move(state)](
          absl::StatusOr<std::vector<RedisReply>> r) mutable {
        if (!r.ok()) {
          std::move(state->done)(r.status());
          return;
        }
        const RedisReply& reply = (*r)[0];
        if (reply.is_error()) {
          std::move(state->done)(
              ReplyStatus(reply, "reading the dead letters"));
          return;
        }
        if (reply.elements.empty() || reply.elements[0].elements.size() != 2) {
          std::move(state->done)(state->total);  // none
          return;
        }
        state->last = reply.elements[0].elements[0].str;
        ReplayAllPage(std::move(state));
      });
}

void DeadLetterQueue::ReplayAllPage(std::shared_ptr<ReplayAllState> state) {
  if (absl::Status stop;
      StopIfCancelled(state->cancelled,
                      absl::StrCat("the replay (", state->total.replayed,
                                   " events replayed before)"),
                      &stop)) {
    std::move(state->done)(stop);
    return;
  }
  std::string after = state->after;
  std::string last = state->last;
  ListAsync(kPage, after, last,
            [this, state = std::move(state)](
                absl::StatusOr<std::vector<DeadLetterEntry>> page) mutable {
              if (!page.ok()) {
                std::move(state->done)(page.status());
                return;
              }
              if (page->empty()) {
                std::move(state->done)(state->total);
                return;
              }
              // Entries without an event stay: the next page starts after them.
              state->after = page->back().id;
              const bool last = static_cast<int>(page->size()) < kPage;
              std::vector<std::string> ids;
              ids.reserve(page->size());
              for (DeadLetterEntry& e : *page) ids.push_back(std::move(e.id));
              ReplayAsync(std::move(ids),
                          [this, state = std::move(state),
                           last](absl::StatusOr<Replayed> r) mutable {
                            if (!r.ok()) {
                              std::move(state->done)(r.status());
                              return;
                            }
                            state->total.replayed += r->replayed;
                            state->total.requested += r->requested;
                            if (last) {
                              std::move(state->done)(state->total);
                              return;
                            }
                            ReplayAllPage(std::move(state));
                          });
            });
}

bool DeadLetterQueue::IsEntryId(absl::string_view id) const {
  // Digits and one '-' only: ParseStreamId alone would take " 5-0" or
  // "+5-0", which Redis refuses.
  return id.find_first_not_of("0123456789-") == absl::string_view::npos &&
         ParseStreamId(id).has_value();
}

absl::StatusOr<std::vector<DeadLetterEntry>> DeadLetterStore::List(
    int count, const std::string& after) {
  return WaitFor<std::vector<DeadLetterEntry>>(
      [&](ListCallback done) { ListAsync(count, after, std::move(done)); });
}

absl::StatusOr<DeadLetterStore::Summary> DeadLetterStore::Summarize(
    int64_t max_entries) {
  return WaitFor<Summary>([&](SummaryCallback done) {
    SummarizeAsync(max_entries, std::move(done));
  });
}

absl::StatusOr<DeadLetterStore::Replayed> DeadLetterStore::Replay(
    std::vector<std::string> ids) {
  return WaitFor<Replayed>([&](ReplayCallback done) {
    ReplayAsync(std::move(ids), std::move(done));
  });
}

absl::StatusOr<DeadLetterStore::Replayed> DeadLetterStore::ReplayAll() {
  return WaitFor<Replayed>(
      [&](ReplayCallback done) { ReplayAllAsync(std::move(done)); });
}

}  // namespace oppmatrix
