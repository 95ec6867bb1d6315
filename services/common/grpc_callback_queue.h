// Keeps gRPC's process-wide callback completion queue alive for the rest of
// the process: a workaround for a gRPC 1.51 defect that aborts a process
// whose last channel reference is dropped inside a callback.
//
// On Linux, gRPC 1.51 runs every callback-API reaction (client callbacks,
// server reactors) on one process-wide completion queue, the
// "CallbackAlternativeCQ", polled by its own threads (two on a 2-core
// machine). Each server with a callback service and each channel that
// made a callback call holds a reference to it. When the last reference
// goes, gRPC shuts the queue down, joins its threads and frees it. If that
// happens on one of those threads, because a callback destroyed the last
// ClientContext or stub of a channel, the thread joins itself: the join
// fails with EDEADLK, which gRPC ignores, the queue is freed anyway, and
// the thread's next poll of the freed queue aborts the process with
//
//   ref_counted.h:183] assertion failed: prior > 0
//
// from grpc_cq_internal_unref on a "nexting_thread" (see
// grpc/grpc#32584, which adds the missing check on the join but keeps the
// self-join). KeepCallbackQueueAlive() takes one reference that is never
// released, so the queue's count never reaches zero while the process
// runs, and its threads are never joined. The cost is those two threads
// for the process's lifetime: servers and callback clients have them
// anyway; a process that only makes synchronous calls (oppctl) gets them
// idle.
//
// GrpcServer::Start, NewChannel and ClassificationClient call it, so code
// that builds servers and channels through them needs nothing else; code
// that makes its own channels and callback calls calls it once first.
//
//   oppmatrix::KeepCallbackQueueAlive();
//   auto channel = grpc::CreateChannel(...);  // callbacks may now drop it
#ifndef OPPMATRIX_SERVICES_COMMON_GRPC_CALLBACK_QUEUE_H_
#define OPPMATRIX_SERVICES_COMMON_GRPC_CALLBACK_QUEUE_H_

namespace oppmatrix {

// Idempotent and thread-safe. The first call starts one callback call on a
// channel to a Unix socket path that does not exist (no network traffic),
// which takes the reference when it starts; the call fails at once and
// frees itself in its callback. Nothing waits for it.
void KeepCallbackQueueAlive();

}  // namespace oppmatrix

#endif  // OPPMATRIX_SERVICES_COMMON_GRPC_CALLBACK_QUEUE_H_
