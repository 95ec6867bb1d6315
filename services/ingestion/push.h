// The PushEvents path: validates pushed events and appends the valid ones,
// as canonical JSON, to the bus. An event is refused for what the pipeline
// would dead-letter it for: invalid fields, or JSON over the bus's
// kMaxEventJsonBytes. No classification happens here.
//
//   EventPusher pusher(&sink);
//   absl::Status s = pusher.Push(request, &response);  // accumulates
#ifndef OPPMATRIX_SERVICES_INGESTION_PUSH_H_
#define OPPMATRIX_SERVICES_INGESTION_PUSH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "oppmatrix/v1/ingestion_service.pb.h"
#include "services/ingestion/event_source.h"

namespace oppmatrix {

// Most events in one PushEventsRequest message.
inline constexpr int kMaxEventsPerPush = 1000;
// Most rejections listed in a PushEventsResponse.
inline constexpr int kMaxListedRejections = 1000;

class EventPusher {
 public:
  // `sink` must outlive the pusher.
  explicit EventPusher(EventSink* sink) : sink_(sink) {}

  // Validates the message's events (indexes continue from what `response`
  // already counts), appends the valid ones, and adds the outcome to
  // `response`. INVALID_ARGUMENT for a message over kMaxEventsPerPush;
  // UNAVAILABLE (saying how many were appended before) when the bus fails.
  absl::Status Push(const v1::PushEventsRequest& request,
                    v1::PushEventsResponse* response);

  // Push for one message of the stream as it came off the wire
  // (`message_index` counts messages from 0). A message that does not
  // decode as a whole is taken apart: each event that decodes is pushed,
  // each that does not is rejected at its index (naming a string field that
  // is not UTF-8), and a message that breaks off counts its rest as one
  // rejected event. Nothing of the message is dropped unanswered.
  absl::Status PushBytes(absl::string_view bytes, int64_t message_index,
                         v1::PushEventsResponse* response);

  // PushBytes without waiting on the bus: the message's events are checked
  // and encoded here, appended in one round trip, and `done` gets what
  // PushBytes would return, on the sink's I/O thread (or this one, for a
  // message refused whole). `response` must stay valid until then; `done`
  // must not block.
  using PushCallback = absl::AnyInvocable<void(absl::Status) &&>;
  void PushBytesAsync(absl::string_view bytes, int64_t message_index,
                      v1::PushEventsResponse* response, PushCallback done);

 private:
  // Checks and encodes the events, adding each valid one's JSON to
  // `payloads` and counting each refusal in `response` (its index after
  // the payloads before it). INVALID_ARGUMENT for a message over
  // kMaxEventsPerPush.
  absl::Status Prepare(const v1::PushEventsRequest& request,
                       v1::PushEventsResponse* response,
                       std::vector<std::string>& payloads);
  absl::Status PrepareBytes(absl::string_view bytes, int64_t message_index,
                            v1::PushEventsResponse* response,
                            std::vector<std::string>& payloads);
  // Counts `payloads` appended events, or says the bus failed.
  static absl::Status Appended(absl::Status appended, size_t payloads,
                               v1::PushEventsResponse* response);

  EventSink* sink_;
};

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_INGESTION_PUSH_H_
