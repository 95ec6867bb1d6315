// A BenchReport as an aligned table for people and as one JSON object for
// scripts. Each RPC is compared with the health check measured the same
// way in the same run: p50 / health p50 (how many null RPCs one call
// costs) and QPS / health QPS.
//
//   std::cout << FormatReportTable(report);
//   absl::StatusOr<std::string> json = ReportToJson(report);
//
// The JSON object is a bench::Report (bench_report.proto):
//   {"target": "127.0.0.1:50051", "load": {"mode": "closed",
//    "concurrency": 16, ...}, "rpcs": [{"rpc": "classify", "requests": 812,
//    "ok": 812, "errors": {}, "qps": 162.4, "latency_ms": {"p50": 0.6,
//    ...}, "vs_health": {"p50": 1.9, "qps": 0.52}, ...}, ...]}
#ifndef OPPMATRIX_CLIENTS_BENCH_BENCH_REPORT_H_
#define OPPMATRIX_CLIENTS_BENCH_BENCH_REPORT_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "clients/bench/bench_report.pb.h"
#include "clients/bench/bench_runner.h"

namespace oppmatrix {

// The ratios of `r` to the health check of the same report; nullopt when
// health was not measured or is zero.
std::optional<double> P50RatioToHealth(const BenchReport& report,
                                       const RpcReport& r);
std::optional<double> QpsRatioToHealth(const BenchReport& report,
                                       const RpcReport& r);

// A header line, one row per RPC, then errors by status code and RPCs not
// measured, if any.
std::string FormatReportTable(const BenchReport& report);

bench::Report ReportToProto(const BenchReport& report);
// ReportToProto as JSON: proto field names, every field printed.
absl::StatusOr<std::string> ReportToJson(const BenchReport& report);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_BENCH_BENCH_REPORT_H_
