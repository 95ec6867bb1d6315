#include "clients/bench/bench_report.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace oppmatrix {
namespace {

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

double Millis(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// Opportunities classified per call: shown for the classifying RPCs only.
bool ClassifiesOpportunities(Rpc rpc) {
  return rpc == Rpc::kClassify || rpc == Rpc::kBatch || rpc == Rpc::kStream;
}

std::string RowName(const BenchReport& report, Rpc rpc) {
  if (rpc == Rpc::kBatch) {
    return absl::StrCat("batch(", report.options.calls.batch_size, ")");
  }
  if (rpc == Rpc::kStream) {
    return absl::StrCat("stream(", report.options.calls.streams, ")");
  }
  return std::string(RpcName(rpc));
}

std::string LoadLine(const BenchOptions& o) {
  std::string load =
      o.load.rate > 0
          ? absl::StrFormat("open loop at %.6g calls/s", o.load.rate)
          : absl::StrCat("closed loop, ", o.load.concurrency,
                         " calls outstanding");
  std::string length;
  if (o.load.max_requests > 0) {
    length = absl::StrCat(o.load.max_requests, " calls");
  }
  if (o.load.duration > absl::ZeroDuration() &&
      o.load.duration != absl::InfiniteDuration()) {
    absl::StrAppend(&length, length.empty() ? "" : " or ",
                    absl::FormatDuration(o.load.duration));
  }
  std::string warmup =
      o.warmup > absl::ZeroDuration()
          ? absl::StrCat(" after a ", absl::FormatDuration(o.warmup),
                         " warm-up")
          : "";
  return absl::StrCat("oppmatrix-bench  ", o.target, "  ", load, "  ", length,
                      " per RPC", warmup, "\n");
}

}  // namespace

std::optional<double> P50RatioToHealth(const BenchReport& report,
                                       const RpcReport& r) {
  const RpcReport* health = report.Find(Rpc::kHealth);
  if (health == nullptr || health->result.latency.count == 0 ||
      r.result.latency.count == 0 ||
      health->result.latency.p50 == absl::ZeroDuration()) {
    return std::nullopt;
  }
  return absl::FDivDuration(r.result.latency.p50, health->result.latency.p50);
}

std::optional<double> QpsRatioToHealth(const BenchReport& report,
                                       const RpcReport& r) {
  const RpcReport* health = report.Find(Rpc::kHealth);
  if (health == nullptr || health->result.qps() <= 0) return std::nullopt;
  return r.result.qps() / health->result.qps();
}

std::string FormatReportTable(const BenchReport& report) {
  const bool open = report.options.load.rate > 0;
  std::string out = LoadLine(report.options);
  absl::StrAppendFormat(
      &out, "%-11s %9s %7s %10s %10s %8s %8s %8s %8s %10s %10s", "rpc", "calls",
      "errors", "qps", "opps/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
      "p50/health", "qps/health");
  if (open) absl::StrAppendFormat(&out, " %7s %8s", "late", "dropped");
  out += "\n";
  auto ratio = [](std::optional<double> v) {
    return v ? absl::StrFormat("%.2f", *v) : std::string("-");
  };
  std::vector<std::string> notes;
  for (const RpcReport& r : report.rpcs) {
    const std::string name = RowName(report, r.rpc);
    if (!r.skipped.empty()) {
      notes.push_back(absl::StrCat(name, ": not measured: ", r.skipped));
      absl::StrAppendFormat(&out, "%-11s %9s\n", name, "-");
      continue;
    }
    const PhaseResult& p = r.result;
    const LatencySummary& l = p.latency;
    absl::StrAppendFormat(
        &out, "%-11s %9d %7d %10.1f %10s %8.3f %8.3f %8.3f %8.3f %10s %10s",
        name, p.requests, p.error_count(), p.qps(),
        ClassifiesOpportunities(r.rpc)
            ? absl::StrFormat("%.1f", p.items_per_second())
            : std::string("-"),
        Millis(l.p50), Millis(l.p90), Millis(l.p99), Millis(l.p999),
        ratio(P50RatioToHealth(report, r)), ratio(QpsRatioToHealth(report, r)));
    if (open) absl::StrAppendFormat(&out, " %7d %8d", p.late, p.dropped);
    out += "\n";
    if (p.dropped > 0) {
      notes.push_back(absl::StrCat(
          name, ": ", p.dropped,
          " sends dropped (over --max_outstanding) are in no percentile: the "
          "server fell behind the rate, and its real tail is worse than "
          "shown"));
    }
    if (!p.errors.empty()) {
      std::vector<std::string> codes;
      for (const auto& [code, n] : p.errors) {
        codes.push_back(absl::StrCat(CodeName(code), " ", n));
      }
      notes.push_back(
          absl::StrCat(name, " errors: ", absl::StrJoin(codes, ", ")));
    }
  }
  for (const std::string& note : notes) absl::StrAppend(&out, note, "\n");
  return out;
}

bench::Report ReportToProto(const BenchReport& report) {
  const BenchOptions& o = report.options;
  bench::Report out;
  out.set_target(o.target);
  bench::Load& load = *out.mutable_load();
  load.set_mode(o.load.rate > 0 ? "open" : "closed");
  if (o.load.rate > 0) {
    load.set_rate(o.load.rate);
    load.set_max_outstanding(o.load.max_outstanding);
  } else {
    load.set_concurrency(o.load.concurrency);
  }
  if (o.load.duration != absl::InfiniteDuration()) {
    load.set_duration_s(absl::ToDoubleSeconds(o.load.duration));
  }
  load.set_requests(o.load.max_requests);
  load.set_warmup_s(absl::ToDoubleSeconds(o.warmup));
  load.set_batch_size(o.calls.batch_size);
  load.set_streams(o.calls.streams);
  load.set_tenant(o.tenant);
  load.set_seed(o.seed);
  load.set_opportunities(o.opportunities);

  for (const RpcReport& r : report.rpcs) {
    bench::RpcResult& row = *out.add_rpcs();
    row.set_rpc(std::string(RpcName(r.rpc)));
    if (!r.skipped.empty()) {
      row.set_skipped(r.skipped);
      continue;
    }
    const PhaseResult& p = r.result;
    row.set_requests(p.requests);
    row.set_ok(p.ok);
    for (const auto& [code, n] : p.errors) {
      (*row.mutable_errors())[CodeName(code)] = n;
    }
    row.set_seconds(absl::ToDoubleSeconds(p.elapsed));
    row.set_qps(p.qps());
    if (ClassifiesOpportunities(r.rpc)) {
      row.set_opportunities(p.items);
      row.set_opportunities_per_s(p.items_per_second());
    }
    bench::Latency& latency = *row.mutable_latency_ms();
    latency.set_p50(Millis(p.latency.p50));
    latency.set_p90(Millis(p.latency.p90));
    latency.set_p99(Millis(p.latency.p99));
    latency.set_p99_9(Millis(p.latency.p999));
    latency.set_min(Millis(p.latency.min));
    latency.set_max(Millis(p.latency.max));
    latency.set_mean(Millis(p.latency.mean));
    if (auto v = P50RatioToHealth(report, r)) {
      row.mutable_vs_health()->set_p50(*v);
    }
    if (auto v = QpsRatioToHealth(report, r)) {
      row.mutable_vs_health()->set_qps(*v);
    }
    row.set_late(p.late);
    row.set_dropped(p.dropped);
  }
  return out;
}

absl::StatusOr<std::string> ReportToJson(const BenchReport& report) {
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.always_print_primitive_fields = true;
  print.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(
      ReportToProto(report), &json, print);
  if (!status.ok()) return absl::InternalError(status.ToString());
  return json;
}

}  // namespace oppmatrix
