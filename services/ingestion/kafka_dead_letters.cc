#include "services/ingestion/kafka_dead_letters.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/ingestion/crm_event.h"
#include "services/ingestion/dead_letter_fields.h"
#include "services/ingestion/kafka_internal.h"

namespace oppmatrix {
namespace {

using kafka_internal::KafkaErrorCallback;
using kafka_internal::KafkaHeader;
using kafka_internal::KafkaUnavailable;
using kafka_internal::Millis;
using kafka_internal::NewKafkaConf;
using kafka_internal::ParseKafkaId;

constexpr size_t kMaxWaiting = 64;
constexpr int kPage = 500;

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaDeadLetterQueue>>
KafkaDeadLetterQueue::Create(Options options) {
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create(options.kafka, options.timeout);
  if (!producer.ok()) return producer.status();
  absl::StatusOr<rd_kafka_conf_t*> conf =
      NewKafkaConf(options.kafka, {{"group.id", options.replay_group}});
  if (!conf.ok()) return conf.status();
  // Set over the properties: reading must never move the replay group's
  // offsets (only ReplayAll commits them), and a read ends at the end.
  char err[512];
  for (const auto& [name, value] :
       {std::pair<const char*, const char*>{"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"}}) {
    rd_kafka_conf_set(*conf, name, value, err, sizeof(err));
  }
  rd_kafka_conf_set_error_cb(*conf, KafkaErrorCallback);
  rd_kafka_t* reader = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof(err));
  if (reader == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  }
  rd_kafka_poll_set_consumer(reader);
  return std::unique_ptr<KafkaDeadLetterQueue>(new KafkaDeadLetterQueue(
      std::move(options), reader, *std::move(producer)));
}

KafkaDeadLetterQueue::KafkaDeadLetterQueue(
    Options options, rd_kafka_t* reader,
    std::unique_ptr<KafkaProducer> producer)
    : options_(std::move(options)),
      reader_(reader),
      producer_(std::move(producer)) {
  worker_ = std::thread([this] { WorkLoop(); });
}

KafkaDeadLetterQueue::~KafkaDeadLetterQueue() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    wake_.SignalAll();
  }
  worker_.join();
  producer_.reset();
  // A reader that never joined a group has no assignor state to trip on.
  rd_kafka_destroy(reader_);
}

void KafkaDeadLetterQueue::Post(
    absl::AnyInvocable<void() &&> work,
    absl::AnyInvocable<void(absl::Status) &&> refuse) {
  {
    absl::MutexLock lock(&mu_);
    if (!stop_ && queue_.size() < kMaxWaiting) {
      queue_.push_back({std::move(work), std::move(refuse)});
      wake_.Signal();
      return;
    }
  }
  std::move(refuse)(absl::UnavailableError(
      "kafka: too many dead-letter calls waiting, or the queue is closing"));
}

void KafkaDeadLetterQueue::WorkLoop() {
  while (true) {
    Call call;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stop_) wake_.Wait(&mu_);
      if (stop_) {
        // What still waits is answered, not run.
        std::deque<Call> left;
        left.swap(queue_);
        mu_.Unlock();
        for (Call& c : left) {
          std::move(c.refuse)(absl::UnavailableError(
              "kafka: the dead-letter queue is closing"));
        }
        mu_.Lock();
        return;
      }
      call = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(call.work)();
  }
}

bool KafkaDeadLetterQueue::Stopping() {
  absl::MutexLock lock(&mu_);
  return stop_;
}

bool KafkaDeadLetterQueue::IsEntryId(absl::string_view id) const {
  int32_t partition;
  int64_t offset;
  return id.find_first_not_of("0123456789:") == absl::string_view::npos &&
         ParseKafkaId(id, &partition, &offset);
}

absl::StatusOr<std::vector<KafkaDeadLetterQueue::Range>>
KafkaDeadLetterQueue::Ranges() {
  absl::StatusOr<std::vector<kafka_internal::PartitionOffsets>> offsets =
      kafka_internal::QueryPartitionOffsets(reader_, options_.dead_letter_topic,
                                            options_.timeout);
  if (!offsets.ok()) return offsets.status();
  std::vector<Range> out;
  for (const kafka_internal::PartitionOffsets& o : *offsets) {
    out.push_back({.partition = o.partition,
                   .begin = std::max(o.low, o.committed),
                   .end = o.high});
  }
  return out;
}

absl::StatusOr<std::vector<KafkaDeadLetterQueue::Read>>
KafkaDeadLetterQueue::ReadRange(int32_t partition, int64_t from, int64_t end,
                                size_t max) {
  namespace f = dead_letter_field;
  std::vector<Read> out;
  if (from >= end || max == 0) return out;
  const std::string& topic = options_.dead_letter_topic;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset =
      from;
  rd_kafka_resp_err_t err = rd_kafka_assign(reader_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaUnavailable("reading the dead letters", err);
  }
  absl::Status status = absl::OkStatus();
  absl::Time deadline = absl::Now() + options_.timeout;
  int64_t next = from;
  while (next < end && out.size() < max) {
    if (absl::Now() > deadline) {
      status = absl::UnavailableError(absl::StrCat(
          "kafka: reading the dead letters of partition ", partition,
          ": no message at offset ", next, " within the timeout"));
      break;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(reader_, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(m);
      break;  // the end came early (retention took the rest)
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = KafkaUnavailable("reading the dead letters", m->err);
      rd_kafka_message_destroy(m);
      break;
    }
    if (m->partition != partition || m->offset < next) {
      rd_kafka_message_destroy(m);  // of an assignment before
      continue;
    }
    deadline = absl::Now() + options_.timeout;
    next = m->offset + 1;
    if (m->offset >= end) {
      rd_kafka_message_destroy(m);
      break;
    }
    Read& r = out.emplace_back();
    DeadLetterEntry& e = r.entry;
    e.id = absl::StrCat(partition, ":", m->offset);
    if (m->payload != nullptr) {
      e.event.assign(static_cast<const char*>(m->payload), m->len);
    }
    if (m->key != nullptr) {
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
    }
    e.content_type = KafkaHeader(m, kKafkaContentTypeHeader);
    e.reason = KafkaHeader(m, f::kReason);
    (void)absl::SimpleAtoi(KafkaHeader(m, f::kDeliveries), &e.deliveries);
    e.source_stream = KafkaHeader(m, f::kSourceStream);
    e.source_id = KafkaHeader(m, f::kSourceId);
    int64_t ms = 0;
    if (absl::SimpleAtoi(KafkaHeader(m, f::kTime), &ms)) {
      e.time = absl::FromUnixMillis(ms);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(reader_, nullptr);
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<KafkaDeadLetterQueue::Read>>
KafkaDeadLetterQueue::ListNow(int count, const std::string& after,
                              const std::vector<Range>& ranges) {
  int32_t after_partition = -1;
  int64_t after_offset = -1;
  if (!after.empty() && !ParseKafkaId(after, &after_partition, &after_offset)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a dead-letter id: \"", after, "\""));
  }
  std::vector<Read> out;
  for (const Range& r : ranges) {
    if (r.partition < after_partition) continue;
    int64_t from = r.begin;
    if (r.partition == after_partition) {
      from = std::max(from, after_offset + 1);
    }
    absl::StatusOr<std::vector<Read>> read =
        ReadRange(r.partition, from, r.end, count - out.size());
    if (!read.ok()) return read.status();
    for (Read& e : *read) out.push_back(std::move(e));
    if (static_cast<int>(out.size()) >= count) break;
  }
  return out;
}

absl::StatusOr<int64_t> KafkaDeadLetterQueue::Produce(
    const std::vector<Read>& reads) {
  std::vector<KafkaProducer::Message> messages;
  for (const Read& r : reads) {
    if (r.entry.event.empty()) continue;  // nothing to replay
    KafkaProducer::Message& m = messages.emplace_back();
    m.topic = options_.topic;
    m.key = r.key.empty() ? KafkaEventKey(r.entry.event, r.entry.content_type)
                          : r.key;
    m.value = r.entry.event;
    if (!r.entry.content_type.empty()) {
      m.headers.emplace_back(kKafkaContentTypeHeader, r.entry.content_type);
    }
  }
  int64_t delivered = 0;
  for (const absl::Status& s : producer_->ProduceAllSync(std::move(messages))) {
    if (!s.ok()) return s;
    ++delivered;
  }
  return delivered;
}

void KafkaDeadLetterQueue::ListAsync(int count, const std::string& after,
                                     ListCallback done) {
  auto shared = std::make_shared<ListCallback>(std::move(done));
  Post(
      [this, count, after, shared]() mutable {
        absl::StatusOr<std::vector<Range>> ranges = Ranges();
        if (!ranges.ok()) {
          std::move (*shared)(ranges.status());
          return;
        }
        absl::StatusOr<std::vector<Read>> reads =
            ListNow(count, after, *ranges);
        if (!reads.ok()) {
          std::move (*shared)(reads.status());
          return;
        }
        std::vector<DeadLetterEntry> out;
        out.reserve(reads->size());
        for (Read& r : *reads) out.push_back(std::move(r.entry));
        std::move (*shared)(std::move(out));
      },
      [shared](absl::Status s) mutable { std::move (*shared)(s); });
}

void KafkaDeadLetterQueue::SummarizeAsync(int64_t max_entries,
                                          SummaryCallback done,
                                          Cancelled cancelled) {
  auto shared = std::make_shared<SummaryCallback>(std::move(done));
  auto is_cancelled = std::make_shared<Cancelled>(std::move(cancelled));
  Post(
      [this, max_entries, shared, is_cancelled]() mutable {
        // The ranges as the call began: entries written meanwhile are left
        // for the next summary.
        absl::StatusOr<std::vector<Range>> ranges = Ranges();
        if (!ranges.ok()) {
          std::move (*shared)(ranges.status());
          return;
        }
        DeadLetterSummarizer summarizer;
        Summary summary;
        std::string after;
        while (true) {
          if (*is_cancelled && (*is_cancelled)()) {
            std::move (*shared)(absl::CancelledError("the caller went away"));
            return;
          }
          const int64_t left = max_entries - summary.entries;
          absl::StatusOr<std::vector<Read>> page =
              ListNow(static_cast<int>(std::min<int64_t>(kPage, left + 1)),
                      after, *ranges);
          if (!page.ok()) {
            std::move (*shared)(page.status());
            return;
          }
          for (Read& r : *page) {
            if (summary.entries == max_entries) {
              summary.truncated = true;
              break;
            }
            summarizer.Add(r.entry);
            ++summary.entries;
          }
          if (summary.truncated || page->empty() ||
              static_cast<int>(page->size()) <
                  std::min<int64_t>(kPage, left + 1)) {
            break;
          }
          after = page->back().entry.id;
        }
        summary.groups = summarizer.Groups();
        std::move (*shared)(std::move(summary));
      },
      [shared](absl::Status s) mutable { std::move (*shared)(s); });
}

void KafkaDeadLetterQueue::ReplayAsync(std::vector<std::string> ids,
                                       ReplayCallback done) {
  auto shared = std::make_shared<ReplayCallback>(std::move(done));
  Post(
      [this, ids = std::move(ids), shared]() mutable {
        absl::StatusOr<std::vector<Range>> ranges = Ranges();
        if (!ranges.ok()) {
          std::move (*shared)(ranges.status());
          return;
        }
        // Every id is checked before anything is replayed.
        absl::flat_hash_set<std::string> seen;
        std::vector<std::pair<int32_t, int64_t>> wanted;
        for (const std::string& id : ids) {
          if (!seen.insert(id).second) continue;
          int32_t partition;
          int64_t offset;
          bool found = ParseKafkaId(id, &partition, &offset);
          if (found) {
            found = std::any_of(ranges->begin(), ranges->end(),
                                [&](const Range& r) {
                                  return r.partition == partition &&
                                         offset >= r.begin && offset < r.end;
                                });
          }
          if (!found) {
            std::move (*shared)(absl::NotFoundError(absl::StrCat(
                "dead letter ", id, " is not in ", options_.dead_letter_topic,
                " (replayed with all, or never written)")));
            return;
          }
          wanted.emplace_back(partition, offset);
        }
        std::vector<Read> reads;
        for (const auto& [partition, offset] : wanted) {
          absl::StatusOr<std::vector<Read>> one =
              ReadRange(partition, offset, offset + 1, 1);
          if (!one.ok()) {
            std::move (*shared)(one.status());
            return;
          }
          for (Read& r : *one) reads.push_back(std::move(r));
        }
        absl::StatusOr<int64_t> delivered = Produce(reads);
        if (!delivered.ok()) {
          std::move (*shared)(delivered.status());
          return;
        }
        std::move (*shared)(
            Replayed{.replayed = *delivered,
                     .requested = static_cast<int64_t>(wanted.size())});
      },
      [shared](absl::Status s) mutable { std::move (*shared)(s); });
}

void KafkaDeadLetterQueue::ReplayAllAsync(ReplayCallback done,
                                          Cancelled cancelled) {
  auto shared = std::make_shared<ReplayCallback>(std::move(done));
  auto is_cancelled = std::make_shared<Cancelled>(std::move(cancelled));
  Post(
      [this, shared, is_cancelled]() mutable {
        absl::StatusOr<std::vector<Range>> ranges = Ranges();
        if (!ranges.ok()) {
          std::move (*shared)(ranges.status());
          return;
        }
        Replayed total;
        for (const Range& r : *ranges) {
          for (int64_t from = r.begin; from < r.end;) {
            if (*is_cancelled && (*is_cancelled)()) {
              std::move (*shared)(absl::CancelledError("the caller went away"));
              return;
            }
            if (Stopping()) {
              std::move (*shared)(absl::UnavailableError(
                  "kafka: the dead-letter queue is closing; the pages "
                  "before are replayed"));
              return;
            }
            absl::StatusOr<std::vector<Read>> page =
                ReadRange(r.partition, from, r.end, kPage);
            if (!page.ok()) {
              std::move (*shared)(page.status());
              return;
            }
            if (page->empty()) break;
            absl::StatusOr<int64_t> delivered = Produce(*page);
            if (!delivered.ok()) {
              std::move (*shared)(delivered.status());
              return;
            }
            total.replayed += *delivered;
            total.requested += static_cast<int64_t>(page->size());
            // Delivered: the page is done, and no longer listed.
            int32_t partition;
            int64_t last;
            ParseKafkaId(page->back().entry.id, &partition, &last);
            from = last + 1;
            rd_kafka_topic_partition_list_t* list =
                rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(
                list, options_.dead_letter_topic.c_str(), r.partition)
                ->offset = from;
            rd_kafka_resp_err_t err = rd_kafka_commit(reader_, list, 0);
            rd_kafka_topic_partition_list_destroy(list);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
              std::move (*shared)(
                  KafkaUnavailable("recording the replayed offsets", err));
              return;
            }
          }
        }
        std::move (*shared)(total);
      },
      [shared](absl::Status s) mutable { std::move (*shared)(s); });
}

}  // namespace oppmatrix
