#include "services/ingestion/push.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "services/common/status_util.h"
#include "services/ingestion/crm_event.h"

namespace oppmatrix {

absl::Status EventPusher::Push(const v1::PushEventsRequest& request,
                               v1::PushEventsResponse* response) {
  if (request.events_size() > kMaxEventsPerPush) {
    std::vector<FieldViolation> v;
    AddViolation(
        v, "events",
        absl::StrCat("at most ", kMaxEventsPerPush, " events per message, got ",
                     request.events_size()));
    return InvalidArgumentWithViolations("message too large", v);
  }
  int64_t index = response->accepted() + response->rejected();
  std::vector<std::string> payloads;
  payloads.reserve(request.events_size());
  for (const v1::CrmEvent& event : request.events()) {
    std::vector<FieldViolation> v;
    ValidateCrmEvent(event, "", v);
    if (!v.empty()) {
      response->set_rejected(response->rejected() + 1);
      if (response->rejections_size() < kMaxListedRejections) {
        v1::RejectedEvent* r = response->add_rejections();
        r->set_index(index);
        r->set_event_id(event.event_id());
        for (FieldViolation& f : v) *r->add_violations() = std::move(f);
      }
    } else {
      std::string json;
      // A valid message always prints.
      (void)google::protobuf::util::MessageToJsonString(event, &json);
      payloads.push_back(std::move(json));
    }
    ++index;
  }
  if (absl::Status s = sink_->Append(payloads); !s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the event bus is unavailable; ", response->accepted(),
        " events of this call were appended before: ", s.message()));
  }
  response->set_accepted(response->accepted() +
                         static_cast<int64_t>(payloads.size()));
  return absl::OkStatus();
}

}  // namespace oppmatrix
