#include "services/ingestion/kafka_bus.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <future>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "services/common/file_util.h"
#include "services/common/log.h"
#include "services/ingestion/crm_event.h"
#include "services/ingestion/dead_letter_fields.h"
#include "services/ingestion/kafka_internal.h"

namespace oppmatrix {
namespace kafka_internal {
namespace {

constexpr char kLogComponent[] = "kafka";

// syslog levels, as librdkafka logs.
LogLevel FromSyslog(int level) {
  if (level <= 3) return LogLevel::kError;
  if (level == 4) return LogLevel::kWarning;
  if (level <= 6) return LogLevel::kInfo;
  return LogLevel::kDebug;
}

void LogCallback(const rd_kafka_t*, int level, const char* facility,
                 const char* message) {
  Log(FromSyslog(level), kLogComponent, absl::StrCat(facility, ": ", message));
}

}  // namespace

int Millis(absl::Duration d) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 1 << 30));
}

absl::Status KafkaUnavailable(absl::string_view what, rd_kafka_resp_err_t err) {
  return absl::UnavailableError(
      absl::StrCat("kafka: ", what, ": ", rd_kafka_err2str(err)));
}

absl::StatusOr<rd_kafka_conf_t*> NewKafkaConf(
    const KafkaConfig& config,
    std::initializer_list<std::pair<const char*, std::string>> defaults) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& name,
                 const std::string& value) -> absl::Status {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err,
                          sizeof(err)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property ", name, ": ", err));
    }
    return absl::OkStatus();
  };
  absl::Status s = absl::OkStatus();
  if (!config.brokers.empty()) s = set("bootstrap.servers", config.brokers);
  for (const auto& [name, value] : defaults) {
    if (s.ok()) s = set(name, value);
  }
  for (const auto& [name, value] : config.properties) {
    if (s.ok()) s = set(name, value);
  }
  if (!s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  return conf;
}

void KafkaErrorCallback(rd_kafka_t* rk, int err, const char* reason, void*) {
  Log(err == RD_KAFKA_RESP_ERR__FATAL ? LogLevel::kError : LogLevel::kWarning,
      kLogComponent, absl::StrCat(rd_kafka_name(rk), ": ", reason));
}

bool ParseKafkaId(absl::string_view id, int32_t* partition, int64_t* offset) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(id, absl::MaxSplits(':', 1));
  return absl::SimpleAtoi(parts.first, partition) &&
         absl::SimpleAtoi(parts.second, offset) && *partition >= 0 &&
         *offset >= 0;
}

std::string KafkaHeader(rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "";
  }
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return "";
  }
  return std::string(static_cast<const char*>(value), size);
}

absl::StatusOr<std::vector<PartitionOffsets>> QueryPartitionOffsets(
    rd_kafka_t* rk, const std::string& topic, absl::Duration timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rkt == nullptr) {
    return KafkaUnavailable(absl::StrCat("topic ", topic),
                            rd_kafka_last_error());
  }
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, Millis(timeout));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaUnavailable(absl::StrCat("metadata of ", topic), err);
  }
  std::vector<PartitionOffsets> out;
  const rd_kafka_resp_err_t topic_err =
      md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md->topic_cnt == 1 && topic_err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      out.push_back({.partition = md->topics[0].partitions[i].id});
    }
  }
  rd_kafka_metadata_destroy(md);
  // A topic not created yet has no events; any other error is no answer.
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR &&
      topic_err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return KafkaUnavailable(absl::StrCat("metadata of ", topic), topic_err);
  }
  if (out.empty()) return out;
  std::sort(out.begin(), out.end(),
            [](const PartitionOffsets& a, const PartitionOffsets& b) {
              return a.partition < b.partition;
            });
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(out.size()));
  for (const PartitionOffsets& o : out) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), o.partition);
  }
  err = rd_kafka_committed(rk, list, Millis(timeout));
  absl::Status status = absl::OkStatus();
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = KafkaUnavailable("committed offsets", err);
  }
  for (size_t i = 0; status.ok() && i < out.size(); ++i) {
    const rd_kafka_topic_partition_t& c = list->elems[i];
    if (c.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = KafkaUnavailable(
          absl::StrCat("the committed offset of partition ", c.partition),
          c.err);
      break;
    }
    out[i].committed = c.offset >= 0 ? c.offset : -1;
    err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), out[i].partition,
                                           &out[i].low, &out[i].high,
                                           Millis(timeout));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = KafkaUnavailable(
          absl::StrCat("watermarks of partition ", out[i].partition), err);
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (!status.ok()) return status;
  return out;
}

}  // namespace kafka_internal

namespace {

using kafka_internal::KafkaErrorCallback;
using kafka_internal::KafkaHeader;
using kafka_internal::KafkaUnavailable;
using kafka_internal::Millis;
using kafka_internal::NewKafkaConf;
using kafka_internal::ParseKafkaId;

constexpr char kComponent[] = "kafka";
// The properties the delivery guarantee rests on: an offset is stored only
// once its event's result is (Ack), and what is stored is committed.
constexpr const char* kEnforcedConsumerProperties[][2] = {
    {"enable.auto.offset.store", "false"},
    {"enable.auto.commit", "true"},
    // A rebalance moves only the partitions that change owner.
    {"partition.assignment.strategy", "cooperative-sticky"},
};
// Properties the flags set; refused as properties, so the two can't differ
// (GetStatus reports the flags).
constexpr const char* kFlagProperties[][2] = {
    {"group.id", "--group"},
    {"client.id", "--consumer"},
    {"bootstrap.servers", "--kafka_brokers"},
    {"metadata.broker.list", "--kafka_brokers"},
};
// A dead letter's payload is cut at this many bytes (an event over
// kMaxEventJsonBytes is dead-lettered as it came), so it stays under the
// brokers' message size limit (1 MB by default).
constexpr size_t kMaxDeadLetterPayloadBytes = 512 << 10;
// A dead letter Kafka did not take is handed out again after this, doubled
// per delivery, up to the second figure.
constexpr absl::Duration kDeadLetterRetry = absl::Milliseconds(100);
constexpr absl::Duration kMaxDeadLetterRetry = absl::Seconds(5);
constexpr size_t kMaxPropertiesFileBytes = 1 << 20;
// Most StatsAsync callers waiting for one query.
constexpr size_t kMaxStatsWaiting = 1024;
// A full read-ahead buffer the pipelines took nothing from for this long
// pauses the partitions.
constexpr absl::Duration kStallBeforePause = absl::Seconds(1);

absl::Status DeliveryStatus(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return absl::OkStatus();
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return absl::ResourceExhaustedError(
          absl::StrCat("kafka: ", rd_kafka_err2str(err)));
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return absl::InvalidArgumentError(
          absl::StrCat("kafka: ", rd_kafka_err2str(err)));
    default:
      return KafkaUnavailable("delivery failed", err);
  }
}

// A ProduceAll call's messages, settled one by one.
struct ProduceBatch {
  std::vector<absl::Status> statuses;
  std::atomic<size_t> left;
  KafkaProducer::Done done;
  struct Slot {
    ProduceBatch* batch;
    size_t index;
  };
  std::vector<Slot> slots;

  // Settles one message; the last one settled answers and frees the batch.
  static void Settle(Slot* slot, absl::Status status) {
    ProduceBatch* b = slot->batch;
    b->statuses[slot->index] = std::move(status);
    if (b->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::move(b->done)(std::move(b->statuses));
      delete b;
    }
  }
};

void DeliveryCallback(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  ProduceBatch::Settle(static_cast<ProduceBatch::Slot*>(m->_private),
                       DeliveryStatus(m->err));
}

// The group-wide part of the stats of `group` on `topic`, through `rk` (a
// consumer handle with that group.id): each partition's committed offset,
// high watermark and lag, and the group's members.
absl::StatusOr<SourceStats> QueryGroupStats(rd_kafka_t* rk,
                                            const std::string& topic,
                                            const std::string& group,
                                            absl::Duration timeout) {
  absl::StatusOr<std::vector<kafka_internal::PartitionOffsets>> offsets =
      kafka_internal::QueryPartitionOffsets(rk, topic, timeout);
  if (!offsets.ok()) return offsets.status();
  SourceStats out;
  for (const kafka_internal::PartitionOffsets& o : *offsets) {
    PartitionStats& p = out.partitions.emplace_back();
    p.partition = o.partition;
    p.committed = o.committed;
    p.high_watermark = o.high;
    p.lag =
        std::max<int64_t>(0, o.high - (o.committed >= 0 ? o.committed : o.low));
    out.lag += p.lag;
  }
  rd_kafka_resp_err_t err;
  // The group's members, where the brokers tell (librdkafka's mock cluster
  // does not); 0 when they don't.
  const rd_kafka_group_list* groups = nullptr;
  err = rd_kafka_list_groups(rk, group.c_str(), &groups, Millis(timeout));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (groups->group_cnt > 0) out.consumers = groups->groups[0].member_cnt;
    rd_kafka_group_list_destroy(groups);
  }
  return out;
}

// INVALID_ARGUMENT for a property a flag sets, or one the delivery
// guarantee rests on set otherwise.
absl::Status CheckProperties(
    const std::vector<std::pair<std::string, std::string>>& properties) {
  for (const auto& [name, value] : properties) {
    for (const auto& [property, flag] : kFlagProperties) {
      if (name == property) {
        return absl::InvalidArgumentError(absl::StrCat(
            "kafka property ", name, ": set it with ", flag, " instead"));
      }
    }
    for (const auto& [enforced, required] : kEnforcedConsumerProperties) {
      if (name == enforced && value != required) {
        return absl::InvalidArgumentError(
            absl::StrCat("kafka property ", name, " must stay ", required,
                         ": the delivery guarantee rests on it"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

// librdkafka's callbacks into the source (a friend).
struct KafkaCallbacks {
  static void Rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* partitions,
                        void* opaque) {
    static_cast<KafkaEventSource*>(opaque)->Rebalance(err, partitions);
  }
};

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ParseKafkaProperties(absl::Span<const std::string> flags,
                     const std::string& file) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&out](absl::string_view entry,
                    absl::string_view where) -> absl::Status {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    absl::string_view name = absl::StripAsciiWhitespace(kv.first);
    if (name.empty() || entry.find('=') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", entry, "\" is not name=value"));
    }
    if (out.size() >= kMaxKafkaProperties) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": more than ", kMaxKafkaProperties, " properties"));
    }
    out.emplace_back(std::string(name),
                     std::string(absl::StripAsciiWhitespace(kv.second)));
    return absl::OkStatus();
  };
  if (!file.empty()) {
    absl::StatusOr<std::string> text =
        ReadFileToString(file, kMaxPropertiesFileBytes);
    if (!text.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--kafka_properties_file: ", text.status().message()));
    }
    int line_number = 0;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      ++line_number;
      line = absl::StripAsciiWhitespace(line);
      if (line.empty() || line[0] == '#' || line[0] == '!') continue;
      absl::Status s = add(line, absl::StrCat(file, ":", line_number));
      if (!s.ok()) return s;
    }
  }
  for (const std::string& flag : flags) {
    absl::Status s = add(flag, "--kafka_property");
    if (!s.ok()) return s;
  }
  if (absl::Status s = CheckProperties(out); !s.ok()) return s;
  return out;
}

std::string KafkaEventKey(absl::string_view payload,
                          absl::string_view content_type) {
  absl::StatusOr<v1::CrmEvent> event = ParseCrmEvent(payload, content_type);
  if (!event.ok()) return "";
  return absl::StrCat(event->tenant_id(), "/", event->opportunity_id());
}

// ---------------------------------------------------------------- producer

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const KafkaConfig& config, absl::Duration delivery_timeout,
    absl::Duration linger) {
  absl::StatusOr<rd_kafka_conf_t*> conf = NewKafkaConf(
      config, {{"enable.idempotence", "true"},
               {"linger.ms", absl::StrCat(std::max<int64_t>(
                                 0, absl::ToInt64Milliseconds(linger)))},
               {"partitioner", "murmur2_random"},
               {"message.timeout.ms", absl::StrCat(Millis(delivery_timeout))}});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(*conf, DeliveryCallback);
  rd_kafka_conf_set_error_cb(*conf, KafkaErrorCallback);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
  }
  return std::unique_ptr<KafkaProducer>(
      new KafkaProducer(rk, delivery_timeout));
}

KafkaProducer::KafkaProducer(rd_kafka_t* rk, absl::Duration delivery_timeout)
    : rk_(rk), delivery_timeout_(delivery_timeout) {
  poller_ = std::thread([this] { PollLoop(); });
}

KafkaProducer::~KafkaProducer() {
  stop_ = true;
  poller_.join();
  // What is in flight gets its answer: delivered, or failed by the purge.
  rd_kafka_flush(rk_, Millis(delivery_timeout_));
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(rk_, 1000);
  rd_kafka_destroy(rk_);
}

void KafkaProducer::PollLoop() {
  while (!stop_.load()) rd_kafka_poll(rk_, 100);
}

void KafkaProducer::ProduceAll(std::vector<Message> messages, Done done) {
  if (messages.empty()) {
    std::move(done)({});
    return;
  }
  auto* batch = new ProduceBatch;
  batch->statuses.resize(messages.size());
  batch->left = messages.size();
  batch->done = std::move(done);
  batch->slots.resize(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    batch->slots[i] = {batch, i};
  }
  // The slots stay put: `batch` is freed only when the last one settles,
  // which may be during this loop.
  ProduceBatch::Slot* slots = batch->slots.data();
  for (size_t i = 0; i < messages.size(); ++i) {
    Message& m = messages[i];
    rd_kafka_headers_t* headers =
        m.headers.empty() ? nullptr : rd_kafka_headers_new(m.headers.size());
    for (const auto& [name, value] : m.headers) {
      rd_kafka_header_add(headers, name.data(), name.size(), value.data(),
                          value.size());
    }
    rd_kafka_resp_err_t err;
    if (headers != nullptr) {
      err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(m.topic.c_str()),
          RD_KAFKA_V_KEY(m.key.empty() ? nullptr : m.key.data(), m.key.size()),
          RD_KAFKA_V_VALUE(m.value.data(), m.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_OPAQUE(&slots[i]), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
    } else {
      err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(m.topic.c_str()),
          RD_KAFKA_V_KEY(m.key.empty() ? nullptr : m.key.data(), m.key.size()),
          RD_KAFKA_V_VALUE(m.value.data(), m.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_OPAQUE(&slots[i]), RD_KAFKA_V_END);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ProduceBatch::Settle(&slots[i], DeliveryStatus(err));
    }
  }
}

std::vector<absl::Status> KafkaProducer::ProduceAllSync(
    std::vector<Message> messages) {
  std::promise<std::vector<absl::Status>> answer;
  std::future<std::vector<absl::Status>> future = answer.get_future();
  ProduceAll(std::move(messages), [&answer](std::vector<absl::Status> s) {
    answer.set_value(std::move(s));
  });
  return future.get();
}

// -------------------------------------------------------------------- sink

KafkaEventSink::KafkaEventSink(KafkaProducer* producer, Options options)
    : producer_(producer), options_(std::move(options)) {}

std::vector<KafkaProducer::Message> KafkaEventSink::Messages(
    absl::Span<const std::string> payloads) const {
  std::vector<KafkaProducer::Message> out;
  out.reserve(payloads.size());
  for (const std::string& payload : payloads) {
    KafkaProducer::Message& m = out.emplace_back();
    m.topic = options_.topic;
    m.key = KafkaEventKey(payload, options_.content_type);
    m.value = payload;
    if (!options_.content_type.empty()) {
      m.headers.emplace_back(kKafkaContentTypeHeader, options_.content_type);
    }
  }
  return out;
}

absl::Status KafkaEventSink::FirstError(
    const std::vector<absl::Status>& statuses) {
  for (const absl::Status& s : statuses) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status KafkaEventSink::Append(absl::Span<const std::string> payloads) {
  return FirstError(producer_->ProduceAllSync(Messages(payloads)));
}

void KafkaEventSink::AppendAsync(std::vector<std::string> payloads,
                                 AppendCallback done) {
  producer_->ProduceAll(
      Messages(payloads),
      [done = std::move(done)](std::vector<absl::Status> statuses) mutable {
        std::move(done)(FirstError(statuses));
      });
}

// ------------------------------------------------------------------ source

absl::StatusOr<std::unique_ptr<KafkaEventSource>> KafkaEventSource::Create(
    Options options) {
  if (absl::Status s = CheckProperties(options.kafka.properties); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer =
      // Dead letters are few, and a pipeline waits for each batch's: no
      // linger.
      KafkaProducer::Create(options.kafka, options.timeout,
                            absl::ZeroDuration());
  if (!producer.ok()) return producer.status();
  absl::StatusOr<rd_kafka_conf_t*> conf = NewKafkaConf(
      options.kafka, {{"group.id", options.group},
                      {"client.id", options.consumer},
                      {"partition.assignment.strategy", "cooperative-sticky"},
                      {"auto.commit.interval.ms", "1000"},
                      {"auto.offset.reset", "earliest"},
                      {"queued.max.messages.kbytes", "16384"}});
  if (!conf.ok()) return conf.status();
  char err[512];
  for (const auto& [name, value] : kEnforcedConsumerProperties) {
    rd_kafka_conf_set(*conf, name, value, err, sizeof(err));
  }
  std::unique_ptr<KafkaEventSource> source(
      new KafkaEventSource(std::move(options), nullptr, *std::move(producer)));
  rd_kafka_conf_set_opaque(*conf, source.get());
  rd_kafka_conf_set_rebalance_cb(*conf, KafkaCallbacks::Rebalance);
  rd_kafka_conf_set_error_cb(*conf, KafkaErrorCallback);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  }
  source->consumer_ = rk;
  rd_kafka_poll_set_consumer(rk);
  absl::StatusOr<rd_kafka_conf_t*> queries_conf = NewKafkaConf(
      source->options_.kafka, {{"group.id", source->options_.group},
                               {"client.id", source->options_.consumer}});
  if (!queries_conf.ok()) return queries_conf.status();
  // No error_cb: nothing polls this handle, so its errors are logged.
  source->queries_ =
      rd_kafka_new(RD_KAFKA_CONSUMER, *queries_conf, err, sizeof(err));
  if (source->queries_ == nullptr) {
    rd_kafka_conf_destroy(*queries_conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  }
  source->stats_thread_ = std::thread([s = source.get()] { s->StatsLoop(); });
  if (!source->options_.subscribe) return source;
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, source->options_.topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t subscribed = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (subscribed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaUnavailable(
        absl::StrCat("subscribing to ", source->options_.topic), subscribed);
  }
  {
    absl::MutexLock lock(&source->mu_);
    source->subscribed_ = true;
  }
  source->poller_ = std::thread([s = source.get()] { s->PollLoop(); });
  return source;
}

KafkaEventSource::KafkaEventSource(Options options, rd_kafka_t* consumer,
                                   std::unique_ptr<KafkaProducer> dead_letters)
    : options_(std::move(options)),
      consumer_(consumer),
      dead_letters_(std::move(dead_letters)) {}

KafkaEventSource::~KafkaEventSource() {
  Close();
  {
    absl::MutexLock lock(&stats_mu_);
    stats_stop_ = true;
    stats_wanted_.SignalAll();
  }
  if (stats_thread_.joinable()) stats_thread_.join();
  dead_letters_.reset();
  if (queries_ != nullptr) rd_kafka_destroy(queries_);
  bool never_assigned;
  {
    absl::MutexLock lock(&mu_);
    never_assigned = subscribed_ && assignments_ == 0;
  }
  if (consumer_ == nullptr) return;
  if (never_assigned) {
    Log(LogLevel::kWarning, kComponent,
        "the consumer never got an assignment; it is left to the process's "
        "exit (librdkafka 2.0 aborts destroying it: "
        "confluentinc/librdkafka#4312)");
    return;
  }
  rd_kafka_destroy(consumer_);
}

void KafkaEventSource::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    if (subscribed_) {
      // The group's first rebalance ends, so the consumer can be freed.
      const absl::Time until = absl::Now() + options_.timeout;
      while (assignments_ == 0 && !assigned_.WaitWithDeadline(&mu_, until)) {
      }
    }
    closing_ = true;
    readable_.SignalAll();
  }
  if (poller_.joinable()) poller_.join();
  if (consumer_ == nullptr) return;
  // Commits the stored offsets, and revokes everything (Rebalance, served
  // on this thread) as the group hands the partitions on.
  if (!options_.subscribe) return;
  if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Log(LogLevel::kWarning, kComponent,
        absl::StrCat("closing the consumer: ", rd_kafka_err2str(err)));
  }
}

void KafkaEventSource::SetPaused(bool paused) {
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (rd_kafka_assignment(consumer_, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return;
  }
  if (paused) {
    rd_kafka_pause_partitions(consumer_, assigned);
  } else {
    rd_kafka_resume_partitions(consumer_, assigned);
  }
  const int n = assigned->cnt;
  rd_kafka_topic_partition_list_destroy(assigned);
  {
    absl::MutexLock lock(&mu_);
    paused_ = paused;
  }
  Log(LogLevel::kInfo, kComponent,
      absl::StrCat(paused ? "paused " : "resumed ", n, " partitions of ",
                   options_.topic,
                   paused ? ": the pipelines have taken nothing for a while "
                            "(is the classifier or Redis down?)"
                          : ""));
}

void KafkaEventSource::PollLoop() {
  bool paused = false;
  while (true) {
    bool pause = paused;
    bool full = false;
    {
      absl::MutexLock lock(&mu_);
      if (closing_) break;
      const size_t max = static_cast<size_t>(options_.max_buffered);
      if (!paused && buffer_.size() >= max) {
        // Full: wait for a read to make room rather than fetch more. Only
        // when the pipelines take nothing for a while (they are retrying)
        // are the partitions paused: pausing throws away what librdkafka
        // has fetched ahead, which a busy drain must not pay for.
        room_.WaitWithTimeout(&mu_, absl::Milliseconds(100));
        if (closing_) break;
        if (buffer_.size() >= max) {
          full = true;
          if (absl::Now() - last_take_ >= kStallBeforePause) pause = true;
        }
      } else if (paused && buffer_.size() <= max / 2) {
        pause = false;
      }
    }
    if (pause != paused) {
      SetPaused(pause);
      paused = pause;
    }
    // Polled at least every kStallBeforePause (rebalances are served in
    // polls; max.poll.interval.ms is minutes).
    if (full && !paused) continue;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100);
    if (m == nullptr) continue;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::string error = absl::StrCat("consuming ", options_.topic, ": ",
                                         rd_kafka_message_errstr(m));
        absl::MutexLock lock(&mu_);
        // Once per error and 10 s: a missing topic is reported on each poll.
        if (error != last_error_ ||
            absl::Now() - last_error_logged_ > absl::Seconds(10)) {
          Log(LogLevel::kWarning, kComponent, error);
          last_error_ = std::move(error);
          last_error_logged_ = absl::Now();
        }
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    Buffered b;
    b.partition = m->partition;
    b.event.id = absl::StrCat(m->partition, ":", m->offset);
    if (m->payload != nullptr) {
      b.event.payload.assign(static_cast<const char*>(m->payload), m->len);
    }
    if (m->key != nullptr) {
      b.event.key.assign(static_cast<const char*>(m->key), m->key_len);
    }
    b.event.content_type = KafkaHeader(m, kKafkaContentTypeHeader);
    const int64_t offset = m->offset;
    rd_kafka_message_destroy(m);
    bool first;
    {
      absl::MutexLock lock(&mu_);
      auto it = partitions_.find(b.partition);
      // Revoked meanwhile, or read already (its new owner, or this one,
      // reads it again from the committed offset).
      if (it == partitions_.end() || offset < it->second.next) continue;
      first = !it->second.counted;
      it->second.counted = true;
    }
    // Revocations happen on this thread, in polls: the partition stays.
    if (first) b.event.deliveries = CountDelivery(b.partition, offset);
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(b.partition);
    if (it == partitions_.end()) continue;
    it->second.in_flight.emplace_back(offset, false);
    it->second.next = offset + 1;
    buffer_.push_back(std::move(b));
    readable_.Signal();
  }
}

void KafkaEventSource::Rebalance(int err_code,
                                 rd_kafka_topic_partition_list_t* partitions) {
  const auto err = static_cast<rd_kafka_resp_err_t>(err_code);
  const bool cooperative =
      std::strcmp(rd_kafka_rebalance_protocol(consumer_), "COOPERATIVE") == 0;
  std::vector<int32_t> ids;
  for (int i = 0; i < partitions->cnt; ++i) {
    ids.push_back(partitions->elems[i].partition);
  }
  std::sort(ids.begin(), ids.end());
  // "partitions 0,2 of T", or "no partitions of T".
  const std::string listed =
      ids.empty() ? "no partitions"
                  : absl::StrCat("partitions ", absl::StrJoin(ids, ","));
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    bool paused;
    {
      absl::MutexLock lock(&mu_);
      ++rebalances_;
      ++assignments_;
      assigned_.SignalAll();
      for (int i = 0; i < partitions->cnt; ++i) {
        partitions_[partitions->elems[i].partition] = Partition{};
      }
      paused = paused_;
    }
    if (cooperative) {
      if (rd_kafka_error_t* e =
              rd_kafka_incremental_assign(consumer_, partitions)) {
        Log(LogLevel::kError, kComponent,
            absl::StrCat("assigning: ", rd_kafka_error_string(e)));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(consumer_, partitions);
    }
    if (paused) rd_kafka_pause_partitions(consumer_, partitions);
    Log(LogLevel::kInfo, kComponent,
        absl::StrCat("assigned ", listed, " of ", options_.topic));
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    const bool lost = rd_kafka_assignment_lost(consumer_);
    // What is acknowledged is committed before the partitions go.
    if (!lost) {
      rd_kafka_resp_err_t c = rd_kafka_commit(consumer_, nullptr, 0);
      if (c != RD_KAFKA_RESP_ERR_NO_ERROR &&
          c != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        Log(LogLevel::kWarning, kComponent,
            absl::StrCat("committing before a revoke: ", rd_kafka_err2str(c)));
      }
    }
    {
      absl::MutexLock lock(&mu_);
      ++rebalances_;
      for (int i = 0; i < partitions->cnt; ++i) {
        partitions_.erase(partitions->elems[i].partition);
      }
      std::erase_if(buffer_, [this](const Buffered& b) {
        mu_.AssertHeld();
        return !partitions_.contains(b.partition);
      });
      std::erase_if(retries_, [this](const std::pair<absl::Time, Buffered>& r) {
        mu_.AssertHeld();
        return !partitions_.contains(r.second.partition);
      });
    }
    if (cooperative) {
      if (rd_kafka_error_t* e =
              rd_kafka_incremental_unassign(consumer_, partitions)) {
        Log(LogLevel::kError, kComponent,
            absl::StrCat("unassigning: ", rd_kafka_error_string(e)));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(consumer_, nullptr);
    }
    Log(LogLevel::kInfo, kComponent,
        absl::StrCat(lost ? "lost " : "revoked ", listed, " of ",
                     options_.topic));
    return;
  }
  Log(LogLevel::kError, kComponent,
      absl::StrCat("rebalance failed: ", rd_kafka_err2str(err)));
  rd_kafka_assign(consumer_, nullptr);
  absl::MutexLock lock(&mu_);
  partitions_.clear();
  buffer_.clear();
}

int64_t KafkaEventSource::CountDelivery(int32_t partition, int64_t offset) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition);
  int64_t deliveries = 1;
  rd_kafka_resp_err_t err =
      rd_kafka_committed(consumer_, list, Millis(options_.timeout));
  rd_kafka_topic_partition_t& c = list->elems[0];
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = c.err;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Counted as a first delivery: a count missed, never an event.
    Log(LogLevel::kWarning, kComponent,
        absl::StrCat("reading partition ", partition,
                     "'s delivery count: ", rd_kafka_err2str(err)));
    rd_kafka_topic_partition_list_destroy(list);
    return deliveries;
  }
  // With nothing committed, reading starts where this read did.
  if (c.offset < 0 || c.offset == offset) {
    absl::string_view metadata(
        static_cast<const char*>(c.metadata),
        c.offset == offset && c.metadata != nullptr ? c.metadata_size : 0);
    int64_t before = 0;
    if (absl::ConsumePrefix(&metadata, "deliveries=")) {
      (void)absl::SimpleAtoi(metadata, &before);
    }
    deliveries = std::max<int64_t>(before, 0) + 1;
    const std::string text = absl::StrCat("deliveries=", deliveries);
    free(c.metadata);
    c.offset = offset;
    c.metadata = malloc(text.size());
    std::memcpy(c.metadata, text.data(), text.size());
    c.metadata_size = text.size();
    // Committed before the event is handed out, so dying on it counts.
    err = rd_kafka_commit(consumer_, list, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Log(LogLevel::kWarning, kComponent,
          absl::StrCat("recording a delivery on partition ", partition, ": ",
                       rd_kafka_err2str(err)));
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  return deliveries;
}

absl::StatusOr<std::vector<BusEvent>> KafkaEventSource::Read(
    int max, absl::Duration wait) {
  std::vector<BusEvent> out;
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + wait;
  while (!closing_) {
    // Dead letters to try again whose time has come go first.
    const absl::Time now = absl::Now();
    while (!retries_.empty() && retries_.front().first <= now) {
      if (partitions_.contains(retries_.front().second.partition)) {
        buffer_.push_front(std::move(retries_.front().second));
      }
      retries_.pop_front();
    }
    if (!buffer_.empty() || now >= deadline) break;
    absl::Time until = deadline;
    if (!retries_.empty()) until = std::min(until, retries_.front().first);
    readable_.WaitWithDeadline(&mu_, until);
  }
  if (closing_) return out;
  const size_t n =
      std::min(buffer_.size(), static_cast<size_t>(std::max(max, 0)));
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(buffer_.front().event));
    buffer_.pop_front();
  }
  if (n > 0) {
    last_take_ = absl::Now();
    room_.Signal();
  }
  return out;
}

absl::Status KafkaEventSource::Ack(absl::Span<const std::string> ids) {
  if (ids.empty()) return absl::OkStatus();
  absl::flat_hash_map<int32_t, std::vector<int64_t>> by_partition;
  for (const std::string& id : ids) {
    int32_t partition;
    int64_t offset;
    if (!ParseKafkaId(id, &partition, &offset)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "not a Kafka event id (partition:offset): \"", id, "\""));
    }
    by_partition[partition].push_back(offset);
  }
  absl::MutexLock lock(&mu_);
  rd_kafka_topic_partition_list_t* store =
      rd_kafka_topic_partition_list_new(static_cast<int>(by_partition.size()));
  for (auto& [partition, offsets] : by_partition) {
    auto it = partitions_.find(partition);
    if (it == partitions_.end()) continue;  // revoked: its new owner reads it
    Partition& p = it->second;
    for (int64_t offset : offsets) {
      auto at = std::lower_bound(p.in_flight.begin(), p.in_flight.end(), offset,
                                 [](const std::pair<int64_t, bool>& e,
                                    int64_t o) { return e.first < o; });
      if (at != p.in_flight.end() && at->first == offset) at->second = true;
    }
    while (!p.in_flight.empty() && p.in_flight.front().second) {
      p.in_flight.pop_front();
    }
    // The low watermark: everything before it is stored.
    const int64_t commit =
        p.in_flight.empty() ? p.next : p.in_flight.front().first;
    if (commit > p.stored) {
      p.stored = commit;
      rd_kafka_topic_partition_list_add(store, options_.topic.c_str(),
                                        partition)
          ->offset = commit;
    }
  }
  if (store->cnt > 0) {
    // A partition revoked meanwhile fails alone (its new owner reads its
    // events again); the others are stored.
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer_, store);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Log(LogLevel::kDebug, kComponent,
          absl::StrCat("storing offsets: ", rd_kafka_err2str(err)));
    }
  }
  rd_kafka_topic_partition_list_destroy(store);
  return absl::OkStatus();
}

std::vector<std::string> KafkaEventSource::Released(
    absl::Span<const std::string> ids) {
  std::vector<std::string> out;
  absl::MutexLock lock(&mu_);
  for (const std::string& id : ids) {
    int32_t partition;
    int64_t offset;
    if (ParseKafkaId(id, &partition, &offset) &&
        !partitions_.contains(partition)) {
      out.push_back(id);
    }
  }
  return out;
}

absl::Status KafkaEventSource::DeadLetter(const BusEvent& event,
                                          absl::string_view reason) {
  DeadLetterItem item{&event, std::string(reason)};
  return DeadLetterAll({&item, 1})[0];
}

std::vector<absl::Status> KafkaEventSource::DeadLetterAll(
    absl::Span<const DeadLetterItem> items) {
  namespace f = dead_letter_field;
  const std::string now = absl::StrCat(absl::ToUnixMillis(absl::Now()));
  // The dead letter of `item`; with `drop`, without the event (the brokers
  // refused it as too large), saying so.
  auto message = [&](const DeadLetterItem& item, bool drop) {
    const BusEvent& e = *item.event;
    int32_t partition = -1;
    int64_t offset = -1;
    ParseKafkaId(e.id, &partition, &offset);
    KafkaProducer::Message m;
    m.topic = options_.dead_letter_topic;
    m.key = e.key;
    if (!drop) m.value = e.payload.substr(0, kMaxDeadLetterPayloadBytes);
    m.headers = {{f::kReason, item.reason},
                 {f::kDeliveries, absl::StrCat(e.deliveries)},
                 {f::kTime, now},
                 {f::kSourceStream, options_.topic},
                 {f::kSourceId, e.id},
                 {f::kSourcePartition, absl::StrCat(partition)},
                 {f::kSourceOffset, absl::StrCat(offset)}};
    if (!e.content_type.empty()) {
      m.headers.emplace_back(kKafkaContentTypeHeader, e.content_type);
    }
    if (drop) {
      m.headers.emplace_back(
          f::kEventDropped,
          absl::StrCat(e.payload.size(),
                       " bytes, more than the brokers take; read it from the "
                       "source offset"));
    }
    return m;
  };
  std::vector<KafkaProducer::Message> messages;
  messages.reserve(items.size());
  for (const DeadLetterItem& item : items)
    messages.push_back(message(item, false));
  std::vector<absl::Status> out =
      dead_letters_->ProduceAllSync(std::move(messages));
  // Refused as too large (the brokers' message.max.bytes is below ours):
  // again without the event, which stays readable at its source offset
  // until retention takes it, rather than hold the partition forever.
  std::vector<size_t> too_large;
  std::vector<KafkaProducer::Message> smaller;
  for (size_t i = 0; i < items.size(); ++i) {
    if (out[i].code() != absl::StatusCode::kInvalidArgument) continue;
    too_large.push_back(i);
    smaller.push_back(message(items[i], true));
  }
  if (!smaller.empty()) {
    std::vector<absl::Status> again =
        dead_letters_->ProduceAllSync(std::move(smaller));
    for (size_t k = 0; k < too_large.size(); ++k) {
      out[too_large[k]] = std::move(again[k]);
    }
  }
  std::vector<std::string> done;
  std::vector<Buffered> again;
  for (size_t i = 0; i < items.size(); ++i) {
    if (out[i].ok()) {
      done.push_back(items[i].event->id);
      continue;
    }
    Buffered& b = again.emplace_back();
    b.event = *items[i].event;
    ++b.event.deliveries;
    int64_t offset;
    ParseKafkaId(b.event.id, &b.partition, &offset);
  }
  if (!again.empty()) {
    // Handed out again after a backoff (the ingestor judges it again, as
    // the Redis source's come back), never in a busy loop.
    absl::MutexLock lock(&mu_);
    for (Buffered& b : again) {
      absl::Duration delay = kDeadLetterRetry;
      for (int64_t d = 2; d < b.event.deliveries && delay < kMaxDeadLetterRetry;
           ++d) {
        delay *= 2;
      }
      const absl::Time at = absl::Now() + std::min(delay, kMaxDeadLetterRetry);
      auto pos = std::upper_bound(
          retries_.begin(), retries_.end(), at,
          [](absl::Time t, const std::pair<absl::Time, Buffered>& r) {
            return t < r.first;
          });
      retries_.insert(pos, {at, std::move(b)});
    }
    readable_.SignalAll();
  }
  if (absl::Status s = Ack(done); !s.ok()) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (out[i].ok()) out[i] = s;
    }
  }
  return out;
}

absl::StatusOr<SourceStats> KafkaEventSource::QueryStats() {
  absl::StatusOr<SourceStats> stats = QueryGroupStats(
      queries_, options_.topic, options_.group, options_.timeout);
  if (!stats.ok()) return stats;
  absl::MutexLock lock(&mu_);
  stats->rebalances = rebalances_;
  for (PartitionStats& p : stats->partitions) {
    auto it = partitions_.find(p.partition);
    if (it == partitions_.end()) continue;
    p.assigned = true;
    p.paused = paused_;
    for (const auto& [offset, acked] : it->second.in_flight) {
      stats->pending += acked ? 0 : 1;
    }
  }
  return stats;
}

absl::StatusOr<SourceStats> KafkaEventSource::Stats() {
  std::promise<absl::StatusOr<SourceStats>> answer;
  std::future<absl::StatusOr<SourceStats>> future = answer.get_future();
  StatsAsync([&answer](absl::StatusOr<SourceStats> s) {
    answer.set_value(std::move(s));
  });
  return future.get();
}

void KafkaEventSource::StatsAsync(StatsCallback done) {
  {
    absl::MutexLock lock(&stats_mu_);
    if (!stats_stop_ && stats_waiting_.size() < kMaxStatsWaiting) {
      stats_waiting_.push_back(std::move(done));
      stats_wanted_.Signal();
      return;
    }
  }
  std::move(done)(absl::UnavailableError(
      "kafka: too many status queries waiting, or the consumer is closing"));
}

void KafkaEventSource::StatsLoop() {
  while (true) {
    std::vector<StatsCallback> callers;
    {
      absl::MutexLock lock(&stats_mu_);
      while (stats_waiting_.empty() && !stats_stop_)
        stats_wanted_.Wait(&stats_mu_);
      callers.swap(stats_waiting_);
      if (stats_stop_) {
        for (StatsCallback& c : callers) {
          std::move(c)(
              absl::UnavailableError("kafka: the consumer is closing"));
        }
        return;
      }
    }
    // One query answers every caller that came while it was waited for.
    absl::StatusOr<SourceStats> stats = QueryStats();
    for (StatsCallback& c : callers) std::move(c)(stats);
  }
}

}  // namespace oppmatrix
