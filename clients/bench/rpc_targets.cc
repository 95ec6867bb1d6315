#include "clients/bench/rpc_targets.h"

#include <grpcpp/support/client_callback.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/sim/opportunity_generator.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "oppmatrix/v1/classification_service.grpc.pb.h"

namespace oppmatrix {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using v1::ClassificationService;

constexpr Rpc kAllRpcs[] = {Rpc::kHealth, Rpc::kClassify, Rpc::kBatch,
                            Rpc::kStream, Rpc::kGet};

// The state of one unary call, alive until its callback.
template <typename Request, typename Response>
struct UnaryCall {
  std::unique_ptr<grpc::ClientContext> context;
  Request request;
  Response response;
  RpcTarget::Done done;
};

// Starts `method` (a stub->async() member) with `call`, which it owns
// until `finish(call, status)` has produced the outcome. The call's state
// (its context holds a reference to the channel) is gone before `done`
// runs: once `done` has run, the run may be over and the target, its
// stubs and the channel destroyed, so nothing of theirs may be released
// after it, on gRPC's thread.
template <typename Call, typename Method, typename Finish>
void StartUnary(Method method, std::unique_ptr<Call> call, Finish finish) {
  Call* raw = call.release();
  method(raw->context.get(), &raw->request, &raw->response,
         [raw, finish](grpc::Status status) {
           Outcome outcome;
           RpcTarget::Done done;
           {
             std::unique_ptr<Call> owned(raw);
             outcome = finish(*owned, status);
             done = std::move(owned->done);
           }
           done(outcome);
         });
}

class HealthTarget : public RpcTarget {
 public:
  HealthTarget(const ClassificationClient& client, const TargetOptions& options)
      : client_(client),
        options_(options),
        stub_(Health::NewStub(client.channel())) {}

  void Start(Done done) override {
    using Call = UnaryCall<HealthCheckRequest, HealthCheckResponse>;
    auto call = std::make_unique<Call>(
        Call{client_.NewContext(options_.timeout), {}, {}, std::move(done)});
    StartUnary([this](auto... args) { stub_->async()->Check(args...); },
               std::move(call),
               [](const Call& c, const grpc::Status& status) {
                 if (!status.ok()) return Outcome{status.error_code(), 0};
                 // A server that answers but is not serving is not a success.
                 if (c.response.status() != HealthCheckResponse::SERVING) {
                   return Outcome{grpc::StatusCode::UNAVAILABLE, 0};
                 }
                 return Outcome{};
               });
  }

 private:
  const ClassificationClient& client_;
  const TargetOptions options_;
  std::unique_ptr<Health::Stub> stub_;
};

class ClassifyTarget : public RpcTarget {
 public:
  ClassifyTarget(const ClassificationClient& client, OpportunitySource* source,
                 const TargetOptions& options)
      : client_(client),
        source_(source),
        options_(options),
        stub_(ClassificationService::NewStub(client.channel())) {}

  void Start(Done done) override {
    using Call = UnaryCall<v1::ClassifyRequest, v1::ClassifyResponse>;
    auto call = std::make_unique<Call>(
        Call{client_.NewContext(options_.timeout), {}, {}, std::move(done)});
    source_->Next(call->request.mutable_opportunity());
    call->request.set_omit_reasons(!options_.with_reasons);
    StartUnary([this](auto... args) { stub_->async()->Classify(args...); },
               std::move(call),
               [](const Call&, const grpc::Status& status) {
                 return Outcome{status.error_code(), 1};
               });
  }

 private:
  const ClassificationClient& client_;
  OpportunitySource* source_;
  const TargetOptions options_;
  std::unique_ptr<ClassificationService::Stub> stub_;
};

// The first item error of a batch or stream result makes the call an
// error with that code.
grpc::StatusCode ItemCode(const v1::ClassifyResult& result) {
  return static_cast<grpc::StatusCode>(result.status().code());
}

class BatchTarget : public RpcTarget {
 public:
  BatchTarget(const ClassificationClient& client, OpportunitySource* source,
              const TargetOptions& options)
      : client_(client),
        source_(source),
        options_(options),
        stub_(ClassificationService::NewStub(client.channel())) {}

  void Start(Done done) override {
    using Call = UnaryCall<v1::BatchClassifyRequest, v1::BatchClassifyResponse>;
    auto call = std::make_unique<Call>(
        Call{client_.NewContext(options_.timeout), {}, {}, std::move(done)});
    call->request.mutable_opportunities()->Reserve(options_.batch_size);
    for (int i = 0; i < options_.batch_size; ++i) {
      source_->Next(call->request.add_opportunities());
    }
    call->request.set_omit_reasons(!options_.with_reasons);
    StartUnary(
        [this](auto... args) { stub_->async()->BatchClassify(args...); },
        std::move(call),
        [](const Call& c, const grpc::Status& status) {
          if (!status.ok()) return Outcome{status.error_code(), 0};
          if (c.response.results_size() != c.request.opportunities_size()) {
            return Outcome{grpc::StatusCode::INTERNAL, 0};
          }
          for (const v1::ClassifyResult& r : c.response.results()) {
            if (ItemCode(r) != grpc::StatusCode::OK)
              return Outcome{ItemCode(r), 0};
          }
          return Outcome{grpc::StatusCode::OK, c.response.results_size()};
        });
  }

 private:
  const ClassificationClient& client_;
  OpportunitySource* source_;
  const TargetOptions options_;
  std::unique_ptr<ClassificationService::Stub> stub_;
};

// One ClassifyStream: requests are written in order (one write in flight
// at a time, the rest queued), results are read continuously, and each
// result completes the oldest pending request.
class StreamCall
    : public grpc::ClientBidiReactor<v1::ClassifyRequest, v1::ClassifyResult> {
 public:
  StreamCall(ClassificationService::Stub* stub,
             std::unique_ptr<grpc::ClientContext> context)
      : context_(std::move(context)) {
    stub->async()->ClassifyStream(context_.get(), this);
    StartRead(&result_);
    // Writes start outside reactions, so OnDone must wait for Close().
    AddHold();
    StartCall();
  }

  // Queues a request; false (and `done` untouched) once the stream broke or
  // is closing.
  bool Send(v1::ClassifyRequest request, RpcTarget::Done& done) {
    const v1::ClassifyRequest* first = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (broken_ || closing_) return false;
      pending_.push_back(std::move(done));
      writes_.push_back(std::move(request));
      if (!writing_) {
        writing_ = true;
        first = &writes_.front();
      }
    }
    if (first != nullptr) StartWrite(first);
    return true;
  }

  // Half-closes once the queued writes are out; results still arrive.
  void Close() {
    bool finish_writes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finish_writes = BeginCloseLocked();
    }
    if (finish_writes) FinishWrites();
  }

  // True once OnDone has run: nothing of the call is left.
  bool finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }

  // Blocks until OnDone.
  void Await() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return finished_; });
  }

  void OnWriteDone(bool ok) override {
    const v1::ClassifyRequest* next = nullptr;
    bool finish_writes = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writes_.pop_front();
      if (!ok) {
        // The call is over: what is queued is never sent, and OnDone fails
        // what is pending once the hold is gone.
        broken_ = true;
        writes_.clear();
      }
      if (!writes_.empty()) {
        next = &writes_.front();
      } else {
        writing_ = false;
        if (broken_ || closing_) finish_writes = BeginCloseLocked();
      }
    }
    if (next != nullptr) StartWrite(next);
    if (finish_writes) FinishWrites();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The server ended the call; let it finish (see OnWriteDone).
      bool finish_writes;
      {
        std::lock_guard<std::mutex> lock(mu_);
        broken_ = true;
        finish_writes = BeginCloseLocked();
      }
      if (finish_writes) FinishWrites();
      return;
    }
    RpcTarget::Done done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pending_.empty()) {
        done = std::move(pending_.front());
        pending_.pop_front();
      }
    }
    const grpc::StatusCode code = ItemCode(result_);
    StartRead(&result_);
    if (done) done(Outcome{code, code == grpc::StatusCode::OK ? 1 : 0});
  }

  void OnDone(const grpc::Status& status) override {
    std::deque<RpcTarget::Done> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      broken_ = true;
      pending.swap(pending_);
    }
    // Requests the server never answered.
    const grpc::StatusCode code =
        status.ok() ? grpc::StatusCode::UNKNOWN : status.error_code();
    for (RpcTarget::Done& done : pending) done(Outcome{code, 0});
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    cv_.notify_all();
  }

 private:
  // Stops taking requests; true when the caller must now FinishWrites()
  // (once, and only with no write in flight).
  bool BeginCloseLocked() {
    closing_ = true;
    if (writing_ || writes_done_) return false;
    writes_done_ = true;
    return true;
  }

  // The last operation started outside a reaction: after it OnDone may
  // come.
  void FinishWrites() {
    StartWritesDone();
    RemoveHold();
  }

  std::unique_ptr<grpc::ClientContext> context_;
  v1::ClassifyResult result_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Requests being written, the first one in flight (addresses stay valid
  // in a deque while others are appended).
  std::deque<v1::ClassifyRequest> writes_;
  std::deque<RpcTarget::Done> pending_;
  bool writing_ = false;
  bool closing_ = false;
  bool writes_done_ = false;
  bool broken_ = false;
  bool finished_ = false;
};

class StreamTarget : public RpcTarget {
 public:
  StreamTarget(const ClassificationClient& client, OpportunitySource* source,
               const TargetOptions& options)
      : client_(client),
        source_(source),
        options_(options),
        stub_(ClassificationService::NewStub(client.channel())),
        streams_(std::max(options.streams, 1)) {}

  ~StreamTarget() override { Finish(); }

  void Start(Done done) override {
    v1::ClassifyRequest request;
    source_->Next(request.mutable_opportunity());
    request.set_omit_reasons(!options_.with_reasons);
    const size_t slot = next_.fetch_add(1) % streams_.size();
    // A broken stream is replaced once; if the new one breaks at once too,
    // the request fails with UNAVAILABLE.
    std::shared_ptr<StreamCall> broken;
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::shared_ptr<StreamCall> stream = StreamAt(slot, broken);
      if (stream->Send(request, done)) return;
      broken = std::move(stream);
    }
    done(Outcome{grpc::StatusCode::UNAVAILABLE, 0});
  }

  void Finish() override {
    std::vector<std::shared_ptr<StreamCall>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& s : streams_) {
        if (s) all.push_back(std::move(s));
      }
      streams_.assign(streams_.size(), nullptr);
      all.insert(all.end(), retired_.begin(), retired_.end());
      retired_.clear();
    }
    for (auto& s : all) s->Close();
    for (auto& s : all) s->Await();
  }

 private:
  // The stream of `slot`, opened when missing. With `broken`, that stream
  // is replaced if it is still the slot's: another caller may have
  // replaced it already, and its replacement is then the one to use.
  // Retired streams are kept until they are over (Finish() awaits them),
  // and dropped here once they are.
  std::shared_ptr<StreamCall> StreamAt(
      size_t slot, const std::shared_ptr<StreamCall>& broken) {
    std::shared_ptr<StreamCall> old;
    std::shared_ptr<StreamCall> current;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (broken && streams_[slot] == broken) {
        old = streams_[slot];
        retired_.push_back(old);
        streams_[slot] = nullptr;
      }
      retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                    [](const std::shared_ptr<StreamCall>& s) {
                                      return s->finished();
                                    }),
                     retired_.end());
      if (!streams_[slot]) {
        streams_[slot] = std::make_shared<StreamCall>(
            stub_.get(), client_.NewContext(options_.stream_timeout));
      }
      current = streams_[slot];
    }
    if (old) old->Close();
    return current;
  }

  const ClassificationClient& client_;
  OpportunitySource* source_;
  const TargetOptions options_;
  std::unique_ptr<ClassificationService::Stub> stub_;
  std::atomic<uint64_t> next_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<StreamCall>> streams_;
  std::vector<std::shared_ptr<StreamCall>> retired_;
};

class GetTarget : public RpcTarget {
 public:
  GetTarget(const ClassificationClient& client, OpportunitySource* source,
            const TargetOptions& options)
      : client_(client),
        source_(source),
        options_(options),
        stub_(ClassificationService::NewStub(client.channel())) {}

  // Classifies (and so stores) every opportunity of the pool once.
  absl::Status Prepare() override {
    constexpr int kChunk = 500;
    const int size = static_cast<int>(source_->pool().size());
    ids_.reserve(size);
    for (int done = 0; done < size; done += kChunk) {
      v1::BatchClassifyRequest request;
      request.set_omit_reasons(!options_.with_reasons);
      for (int i = done; i < std::min(size, done + kChunk); ++i) {
        source_->Next(request.add_opportunities());
      }
      v1::BatchClassifyResponse response;
      auto context = client_.NewContext(options_.timeout);
      grpc::Status status =
          stub_->BatchClassify(context.get(), request, &response);
      if (!status.ok()) {
        return absl::UnavailableError(absl::StrCat(
            "classifying the opportunities to read: ", status.error_message()));
      }
      for (const v1::ClassifyResult& r : response.results()) {
        if (ItemCode(r) != grpc::StatusCode::OK) {
          return absl::InternalError(absl::StrCat(
              "classifying ", r.opportunity_id(), ": ", r.status().message()));
        }
        if (!r.stored() && !r.superseded()) {
          return absl::FailedPreconditionError(
              "the server stores no results (is it running with --redis, "
              "and is Redis up?)");
        }
      }
      for (const v1::Opportunity& o : request.opportunities()) {
        ids_.push_back(o.id());
      }
    }
    return absl::OkStatus();
  }

  void Start(Done done) override {
    using Call =
        UnaryCall<v1::GetClassificationRequest, v1::GetClassificationResponse>;
    auto call = std::make_unique<Call>(
        Call{client_.NewContext(options_.timeout), {}, {}, std::move(done)});
    call->request.set_tenant_id(source_->pool().front().tenant_id());
    call->request.set_opportunity_id(ids_[next_.fetch_add(1) % ids_.size()]);
    StartUnary(
        [this](auto... args) { stub_->async()->GetClassification(args...); },
        std::move(call),
        [](const Call&, const grpc::Status& status) {
          return Outcome{status.error_code(), 1};
        });
  }

 private:
  const ClassificationClient& client_;
  OpportunitySource* source_;
  const TargetOptions options_;
  std::unique_ptr<ClassificationService::Stub> stub_;
  std::vector<std::string> ids_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace

absl::string_view RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kHealth:
      return "health";
    case Rpc::kClassify:
      return "classify";
    case Rpc::kBatch:
      return "batch";
    case Rpc::kStream:
      return "stream";
    case Rpc::kGet:
      return "get";
  }
  return "?";
}

absl::StatusOr<std::vector<Rpc>> ParseRpcs(absl::string_view flag) {
  if (flag == "all")
    return std::vector<Rpc>(std::begin(kAllRpcs), std::end(kAllRpcs));
  for (Rpc rpc : kAllRpcs) {
    if (flag != RpcName(rpc)) continue;
    if (rpc == Rpc::kHealth) return std::vector<Rpc>{Rpc::kHealth};
    return std::vector<Rpc>{Rpc::kHealth, rpc};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--rpc: \"", flag,
                   "\" is not one of classify, batch, stream, get, health, "
                   "all"));
}

std::vector<v1::Opportunity> GeneratePool(const std::string& tenant,
                                          uint64_t seed, int count) {
  OpportunityGenerator generator({.tenant_id = tenant, .seed = seed},
                                 absl::Now());
  std::vector<v1::Opportunity> pool;
  pool.reserve(count);
  for (int i = 0; i < count; ++i) pool.push_back(generator.Next());
  return pool;
}

OpportunitySource::OpportunitySource(std::vector<v1::Opportunity> pool,
                                     int64_t version_base)
    : pool_(std::move(pool)), version_base_(version_base) {}

void OpportunitySource::Next(v1::Opportunity* out) {
  const int64_t g = next_.fetch_add(1);
  const int64_t size = static_cast<int64_t>(pool_.size());
  *out = pool_[g % size];
  out->set_version(version_base_ + g / size);
}

int64_t VersionBaseFromClock() { return absl::ToUnixMicros(absl::Now()); }

std::unique_ptr<RpcTarget> MakeRpcTarget(Rpc rpc,
                                         const ClassificationClient& client,
                                         OpportunitySource* source,
                                         const TargetOptions& options) {
  switch (rpc) {
    case Rpc::kHealth:
      return std::make_unique<HealthTarget>(client, options);
    case Rpc::kClassify:
      return std::make_unique<ClassifyTarget>(client, source, options);
    case Rpc::kBatch:
      return std::make_unique<BatchTarget>(client, source, options);
    case Rpc::kStream:
      return std::make_unique<StreamTarget>(client, source, options);
    case Rpc::kGet:
      return std::make_unique<GetTarget>(client, source, options);
  }
  return nullptr;
}

}  // namespace oppmatrix
