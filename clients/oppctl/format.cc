#include "clients/oppctl/format.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "oppmatrix/v1/dimensions.pb.h"
#include "services/common/enum_names.h"
#include "services/common/status_util.h"

namespace oppmatrix {
namespace {

// CUSTOMER_TYPE_LARGE_ENTERPRISE -> "LARGE_ENTERPRISE"; unspecified -> "-".
template <typename E>
std::string Short(const google::protobuf::EnumDescriptor* type, E value) {
  if (static_cast<int>(value) == 0) return "-";
  const auto* v = type->FindValueByNumber(value);
  return v == nullptr ? absl::StrCat(static_cast<int>(value))
                      : ShortEnumName(v);
}

std::string GradeLetter(v1::Grade g) {
  return Short(v1::Grade_descriptor(), g);
}

std::string Row(absl::string_view label, absl::string_view value) {
  return absl::StrFormat("%-13s %s\n", label, value);
}

// Display width of UTF-8 text: one column per code point.
size_t Width(absl::string_view text) {
  size_t w = 0;
  for (unsigned char ch : text) w += (ch & 0xC0) != 0x80;
  return w;
}

// Boxes of lines on a columns x rows grid, row 0 at the bottom
// (relationship rising upwards, potential to the right).
std::string DrawGrid(const std::vector<std::vector<std::string>>& text,
                     int columns, int rows, size_t min_width) {
  size_t width = min_width, height = 1;
  for (const auto& box : text) {
    for (const std::string& line : box) width = std::max(width, Width(line));
    height = std::max(height, box.size());
  }
  std::string rule = "+";
  for (int x = 0; x < columns; ++x) {
    absl::StrAppend(&rule, std::string(width + 2, '-'), "+");
  }
  std::string out = "relationship ^\n";
  for (int y = rows - 1; y >= 0; --y) {
    absl::StrAppend(&out, rule, "\n");
    for (size_t line = 0; line < height; ++line) {
      absl::StrAppend(&out, "|");
      for (int x = 0; x < columns; ++x) {
        const auto& box = text[y * columns + x];
        std::string s = line < box.size() ? box[line] : "";
        absl::StrAppend(&out, " ", s, std::string(width - Width(s), ' '), " |");
      }
      absl::StrAppend(&out, "\n");
    }
  }
  absl::StrAppend(&out, rule, "  potential >\n");
  return out;
}

}  // namespace

namespace {

// "2026-12-03T16:23:27Z", to the second.
std::string Rfc3339(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

}  // namespace

std::string FormatClassificationTable(const v1::Classification& c) {
  std::string out;
  absl::StrAppend(
      &out, Row("opportunity",
                absl::StrCat(c.opportunity_id(), "  (tenant ", c.tenant_id(),
                             ", version ", c.opportunity_version(), ")")));
  absl::StrAppend(&out,
                  Row("cell", absl::StrCat(c.cell(), "  ", c.cell_label())));
  if (c.has_pin()) {
    const v1::Pin& p = c.pin();
    absl::StrAppend(
        &out, Row("pinned", absl::StrCat("by ", p.author(), " at ",
                                         Rfc3339(p.pinned_time()), " until ",
                                         Rfc3339(p.expire_time()),
                                         "; the rules say ", c.rules_cell())));
    absl::StrAppend(&out, Row("", p.reason()));
  }
  absl::StrAppend(&out, Row("grade", absl::StrFormat("%s   priority %.2f",
                                                     GradeLetter(c.grade()),
                                                     c.priority_score())));
  absl::StrAppend(
      &out, Row("scores",
                absl::StrFormat("potential %.2f   relationship %.2f",
                                c.potential_score(), c.relationship_score())));
  absl::StrAppend(
      &out,
      Row("customer",
          absl::StrCat(
              Short(v1::CustomerType_descriptor(), c.customer_type()),
              ", value ", Short(v1::ValueTier_descriptor(), c.value_tier()),
              ", industry ", Short(v1::Industry_descriptor(), c.industry()),
              c.country().empty() ? "" : ", country ", c.country())));
  absl::StrAppend(
      &out,
      Row("need / stage",
          absl::StrCat(Short(v1::NeedUrgency_descriptor(), c.need_urgency()),
                       " need, ",
                       Short(v1::BuyingStage_descriptor(), c.buying_stage()),
                       " stage")));
  absl::StrAppend(&out, Row("action", c.action().code()));
  absl::StrAppend(&out, Row("", c.action().playbook()));
  bool first = true;
  for (const v1::Reason& r : c.reasons()) {
    std::string axis = r.axis() == v1::AXIS_POTENTIAL      ? "potential"
                       : r.axis() == v1::AXIS_RELATIONSHIP ? "relationship"
                                                           : "note";
    std::string line =
        r.axis() == v1::AXIS_UNSPECIFIED
            ? absl::StrFormat("%7s  %-12s  %s", "!", axis, r.detail())
            : absl::StrFormat("%+7.2f  %-12s  %s (%s)", r.contribution(), axis,
                              r.factor(), r.detail());
    absl::StrAppend(&out, Row(first ? "reasons" : "", line));
    first = false;
  }
  if (!c.previous_cell().empty()) {
    absl::StrAppend(&out, Row("previous", c.previous_cell()));
  }
  absl::StrAppend(
      &out,
      Row("ruleset",
          absl::StrCat(c.ruleset_version(), "   classified ",
                       absl::FormatTime(
                           "%Y-%m-%dT%H:%M:%SZ",
                           absl::FromUnixSeconds(c.classified_time().seconds()),
                           absl::UTCTimeZone()))));
  return out;
}

std::string FormatMatrixSummary(
    const std::vector<v1::Classification>& results) {
  int columns = 0, rows = 0;
  for (const v1::Classification& c : results) {
    columns = std::max(columns, c.potential_band() + 1);
    rows = std::max(rows, c.relationship_band() + 1);
  }
  if (columns == 0) return "";
  struct Box {
    std::string cell;
    std::vector<const v1::Classification*> items;
  };
  std::vector<Box> boxes(columns * rows);
  for (const v1::Classification& c : results) {
    Box& b = boxes[c.relationship_band() * columns + c.potential_band()];
    b.cell = c.cell();
    b.items.push_back(&c);
  }
  // Lines of every box: the cell id, then "id (grade, priority)" per item.
  std::vector<std::vector<std::string>> text(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    Box& b = boxes[i];
    std::sort(b.items.begin(), b.items.end(), [](auto* x, auto* y) {
      return x->priority_score() > y->priority_score();
    });
    text[i].push_back(b.cell.empty() ? "-" : b.cell);
    for (const v1::Classification* c : b.items) {
      text[i].push_back(absl::StrFormat("%s (%s, %.0f)", c->opportunity_id(),
                                        GradeLetter(c->grade()),
                                        c->priority_score()));
    }
  }
  return DrawGrid(text, columns, rows, 12);
}

std::string FormatMoney(const google::type::Money& money) {
  double v = static_cast<double>(money.units()) + money.nanos() / 1e9;
  const char* sign = v < 0 ? "-" : "";
  v = std::abs(v);
  // Round to three significant digits first, then pick the unit, so that
  // 999,600 is "1M", not "1e+03k".
  if (v >= 1000) {
    const double scale = std::pow(10.0, std::floor(std::log10(v)) - 2);
    v = std::round(v / scale) * scale;
  }
  std::string number;
  if (v >= 1e12) {
    number = absl::StrFormat("%.3gT", v / 1e12);
  } else if (v >= 1e9) {
    number = absl::StrFormat("%.3gB", v / 1e9);
  } else if (v >= 1e6) {
    number = absl::StrFormat("%.3gM", v / 1e6);
  } else if (v >= 1e3) {
    number = absl::StrFormat("%.3gk", v / 1e3);
  } else {
    number = absl::StrFormat("%.0f", v);
  }
  return absl::StrCat(sign, number, " ", money.currency_code());
}

std::string FormatStoredMatrix(const v1::GetMatrixResponse& matrix) {
  int columns = matrix.potential_thresholds_size() + 1;
  int rows = matrix.relationship_thresholds_size() + 1;
  std::vector<std::vector<std::string>> text(columns * rows);
  std::vector<std::string> extra;  // cells of an older ruleset
  int64_t total = 0;
  for (const v1::MatrixCellSummary& cell : matrix.cells()) {
    total += cell.count();
    std::vector<std::string> lines = {
        absl::StrCat(cell.cell(), "  ", cell.label()),
        absl::StrCat(cell.count(), " opportunities, ",
                     FormatMoney(cell.total_amount())),
        absl::StrCat("-> ", cell.action().code())};
    for (const v1::Classification& c : cell.top()) {
      lines.push_back(absl::StrFormat("  %s (%s, %.0f)", c.opportunity_id(),
                                      GradeLetter(c.grade()),
                                      c.priority_score()));
    }
    if (cell.potential_band() < 0 || cell.potential_band() >= columns ||
        cell.relationship_band() < 0 || cell.relationship_band() >= rows) {
      extra.push_back(absl::StrCat(lines[0], ": ", lines[1]));
      continue;
    }
    text[cell.relationship_band() * columns + cell.potential_band()] = lines;
  }
  std::string out =
      absl::StrCat("tenant ", matrix.tenant_id(), ", ", total,
                   " opportunities, ruleset ", matrix.ruleset_version(), "\n");
  absl::StrAppend(&out, DrawGrid(text, columns, rows, 16));
  for (const std::string& e : extra) {
    absl::StrAppend(&out, "not in the current ruleset: ", e, "\n");
  }
  return out;
}

std::string FormatStoredMatrixPlain(const v1::GetMatrixResponse& matrix) {
  int64_t total = 0;
  for (const v1::MatrixCellSummary& cell : matrix.cells()) {
    total += cell.count();
  }
  std::string out =
      absl::StrCat("tenant ", matrix.tenant_id(), ", ", total,
                   " opportunities, ruleset ", matrix.ruleset_version(), "\n");
  for (const v1::MatrixCellSummary& cell : matrix.cells()) {
    absl::StrAppendFormat(&out, "%-9s %-34s %6d opportunities %10s  -> %s\n",
                          cell.cell(), cell.label(), cell.count(),
                          FormatMoney(cell.total_amount()),
                          cell.action().code());
    for (const v1::Classification& c : cell.top()) {
      absl::StrAppendFormat(&out, "  %s (%s, %.0f)\n", c.opportunity_id(),
                            GradeLetter(c.grade()), c.priority_score());
    }
  }
  return out;
}

std::string FormatClassificationLine(const v1::Classification& c) {
  return absl::StrFormat(
      "%-14s %-8s %s  priority %6.2f  potential %6.2f  relationship %6.2f  "
      "%s%s\n",
      c.opportunity_id(), c.cell(), GradeLetter(c.grade()), c.priority_score(),
      c.potential_score(), c.relationship_score(),
      c.has_amount() ? FormatMoney(c.amount()) : "-",
      c.previous_cell().empty()
          ? ""
          : absl::StrCat("  (was ", c.previous_cell(), ")"));
}

std::string FormatAccount(const v1::GetAccountResponse& a) {
  std::string out =
      absl::StrFormat("account %s (tenant %s): %d %s, %d open%s\n",
                      a.account_id(), a.tenant_id(), a.opportunities(),
                      a.opportunities() == 1 ? "opportunity" : "opportunities",
                      a.open_opportunities(),
                      a.truncated() ? " (figures of the first 1000)" : "");
  if (a.cell().empty()) {
    return absl::StrCat(out, "no open opportunity: not on the matrix\n");
  }
  absl::StrAppendFormat(
      &out,
      "cell          %s  %s\nscores        potential %.2f   relationship "
      "%.2f   (%s, ruleset %s)\nopen amount   %s\naction        %s\n",
      a.cell(), a.cell_label(), a.potential_score(), a.relationship_score(),
      absl::AsciiStrToLower(
          Short(v1::Aggregation_descriptor(), a.aggregation())),
      a.ruleset_version(), FormatMoney(a.open_amount()), a.action().code());
  for (const v1::Classification& c : a.open()) {
    absl::StrAppend(&out, "  ", FormatClassificationLine(c));
  }
  return out;
}

std::string FormatHistory(const v1::GetHistoryResponse& r) {
  const v1::Classification& c = r.classification();
  std::string out = absl::StrFormat(
      "%s is in %s, trend %s; %d state%s, newest first\n", c.opportunity_id(),
      c.cell(), Short(v1::Trend_descriptor(), r.trend()), r.entries_size(),
      r.entries_size() == 1 ? "" : "s");
  for (const v1::HistoryEntry& e : r.entries()) {
    absl::StrAppendFormat(
        &out,
        "%s  %-8s %s  priority %6.2f  potential %6.2f  relationship %6.2f  "
        "%s  v%d  %s\n",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                         absl::FromUnixSeconds(e.classified_time().seconds()),
                         absl::UTCTimeZone()),
        e.cell(), GradeLetter(e.grade()), e.priority_score(),
        e.potential_score(), e.relationship_score(), e.ruleset_version(),
        e.opportunity_version(), e.cause());
    if (!e.changed_fields().empty()) {
      absl::StrAppend(&out, "                      changed: ",
                      absl::StrJoin(e.changed_fields(), ", "), "\n");
    }
  }
  return out;
}

std::string FormatExplain(const v1::ExplainResponse& r) {
  auto state = [](const v1::HistoryEntry& e, int index) {
    return absl::StrFormat(
        "  entry %d  %s  %-8s priority %6.2f  potential %6.2f  relationship "
        "%6.2f  %s  v%d\n",
        index,
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                         absl::FromUnixSeconds(e.classified_time().seconds()),
                         absl::UTCTimeZone()),
        e.cell(), e.priority_score(), e.potential_score(),
        e.relationship_score(), e.ruleset_version(), e.opportunity_version());
  };
  std::string out =
      absl::StrCat("from", state(r.before(), r.from_entry()).substr(1), "to  ",
                   state(r.after(), r.to_entry()).substr(1),
                   "cause: ", absl::StrJoin(r.causes(), ", "), "\n\n");
  for (const std::string& line : r.summary()) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  if (!r.factors().empty()) {
    absl::StrAppendFormat(&out, "\n  %-13s %-32s %8s %8s %8s\n", "score",
                          "factor", "before", "after", "change");
    for (const v1::FactorChange& f : r.factors()) {
      absl::StrAppendFormat(
          &out, "  %-13s %-32s %8.2f %8.2f %+8.2f\n",
          f.axis() == v1::AXIS_POTENTIAL ? "potential" : "relationship",
          f.factor(), f.before(), f.after(), f.delta());
    }
  }
  return out;
}

std::string FormatWhatIf(const v1::WhatIfResponse& r) {
  const v1::Classification& c = r.current();
  std::string out = absl::StrFormat(
      "%s is in %s (potential %.2f, relationship %.2f, priority %.2f, grade "
      "%s)\n",
      c.opportunity_id(), c.cell(), c.potential_score(), c.relationship_score(),
      c.priority_score(), GradeLetter(c.grade()));
  if (r.options().empty()) return absl::StrCat(out, r.note(), "\n");
  for (int i = 0; i < r.options_size(); ++i) {
    const v1::WhatIfOption& o = r.options(i);
    const v1::Classification& to = o.result();
    absl::StrAppendFormat(
        &out,
        "%d. %d change%s, %d step%s -> %s (potential %.2f, relationship "
        "%.2f, priority %.2f, grade %s)\n",
        i + 1, o.changes_size(), o.changes_size() == 1 ? "" : "s", o.steps(),
        o.steps() == 1 ? "" : "s", to.cell(), to.potential_score(),
        to.relationship_score(), to.priority_score(), GradeLetter(to.grade()));
    for (const v1::LeverChange& change : o.changes()) {
      absl::StrAppendFormat(&out, "     %-36s %s -> %s\n", change.field(),
                            change.from().empty() ? "\"\"" : change.from(),
                            change.to());
    }
  }
  return out;
}

std::string FormatTransitionLine(const v1::Transition& t) {
  const std::string time = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.time().seconds()),
      absl::UTCTimeZone());
  // Deleted in the CRM: the move out of its cell, to none.
  if (t.to_cell().empty()) {
    return absl::StrFormat("%s  %-14s %8s -> (deleted)\n", time,
                           t.opportunity_id(), t.from_cell());
  }
  // The first few changed fields (`explain` has them all).
  std::string fields;
  const int n = t.changed_fields_size();
  for (int i = 0; i < n && i < kTransitionFieldsShown; ++i) {
    absl::StrAppend(&fields, i == 0 ? ": " : ", ", t.changed_fields(i));
  }
  if (n > kTransitionFieldsShown) {
    absl::StrAppend(&fields, " and ", n - kTransitionFieldsShown, " more");
  }
  return absl::StrFormat("%s  %-14s %8s -> %-8s priority %6.2f  %s%s%s%s\n",
                         time, t.opportunity_id(), t.from_cell(), t.to_cell(),
                         t.priority_score(), t.ruleset_version(),
                         t.cause().empty() ? "" : "  ", t.cause(), fields);
}

std::string FormatJson(const google::protobuf::Message& message,
                       bool with_defaults) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = with_defaults;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string FormatError(const absl::Status& status) {
  std::vector<FieldViolation> violations = GetFieldViolations(status);
  if (violations.empty()) {
    return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                        status.message(), "\n");
  }
  // The message repeats the violations on one line; list them instead.
  std::string out =
      absl::StrCat(absl::StatusCodeToString(status.code()), ":\n");
  for (const FieldViolation& v : violations) {
    absl::StrAppend(&out, "  ", v.field(), ": ", v.description(), "\n");
  }
  return out;
}

namespace {

std::string Utc(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string VersionOrDefault(const std::string& version) {
  return version.empty() ? "the default" : version;
}

}  // namespace

std::string FormatRulesetPublication(const v1::RulesetPublication& p) {
  return absl::StrCat(
      Utc(p.time()), "  ", p.rollback() ? "rollback" : "publish", " ",
      VersionOrDefault(p.version()), " (was ",
      VersionOrDefault(p.previous_version()), ") by ", p.author());
}

std::string FormatRescoreStatus(const v1::RescoreStatus& r) {
  const bool done = r.state() == v1::RescoreStatus::DONE;
  std::string out = absl::StrCat(
      "rescore ", r.id(), " of tenant ", r.tenant_id(), " to ", r.version(),
      r.uses_default() ? " (the default)" : "",
      done ? ": done, " : ": running, ", r.done(), " of ",
      // Counted at the first step.
      !done && r.total() == 0 ? std::string("?") : absl::StrCat(r.total()));
  if (!done && r.total() > 0) {
    absl::StrAppend(&out, " (",
                    std::min<int64_t>(100, r.done() * 100 / r.total()), " %)");
  }
  absl::StrAppend(&out, ", ", r.moved(), " moved, ", r.skipped(), " skipped");
  if (done) {
    const absl::Duration took =
        absl::Seconds(r.finished_time().seconds() - r.started_time().seconds());
    absl::StrAppend(&out, ", ", Utc(r.started_time()), " to ",
                    Utc(r.finished_time()), " (", absl::FormatDuration(took),
                    ")");
  } else {
    absl::StrAppend(&out, ", since ", Utc(r.started_time()),
                    r.owner().empty() ? ", waiting for a replica"
                                      : absl::StrCat(" on ", r.owner()));
  }
  return out;
}

std::string FormatRulesetList(const v1::ListRulesetsResponse& r) {
  std::string out = absl::StrCat(
      "tenant ", r.tenant_id(), ": ", r.active_version(),
      r.uses_default() ? " (the default)" : " (its own)", " in force\n");
  if (!r.uses_default()) {
    absl::StrAppend(&out, "default ", r.default_version(), "\n");
  }
  if (r.versions().empty()) {
    absl::StrAppend(&out, "no versions uploaded\n");
  } else {
    absl::StrAppend(&out, "versions, newest first:\n");
    for (const v1::RulesetVersionInfo& v : r.versions()) {
      absl::StrAppend(&out, v.active() ? "* " : "  ", v.version(),
                      "  uploaded ", Utc(v.uploaded_time()), " by ",
                      v.uploaded_by(), "\n");
    }
  }
  if (!r.publications().empty()) {
    absl::StrAppend(&out, "publications, newest first:\n");
    for (const v1::RulesetPublication& p : r.publications()) {
      absl::StrAppend(&out, "  ", FormatRulesetPublication(p), "\n");
    }
  }
  return out;
}

std::string FormatRulesetPreview(const v1::PreviewRulesetResponse& r) {
  std::string out =
      absl::StrCat(r.version(), " against ", r.active_version(),
                   " (in force) for tenant ", r.tenant_id(), ":\n",
                   r.compared(), " compared, ", r.moved(), " change cell");
  if (r.skipped() > 0) {
    absl::StrAppend(&out, ", ", r.skipped(),
                    " skipped (stored without their opportunity)");
  }
  absl::StrAppend(&out, "\n");
  if (r.moves().empty()) return out;
  std::string currency = r.moves(0).amount().currency_code();
  absl::StrAppend(
      &out, absl::StrFormat("%-12s %-12s %8s  %s\n", "from", "to", "count",
                            absl::StrCat("amount (", currency, ")")));
  for (const v1::CellMove& m : r.moves()) {
    absl::StrAppend(
        &out, absl::StrFormat("%-12s %-12s %8d  %s%s\n",
                              m.from_cell().empty() ? "-" : m.from_cell(),
                              m.to_cell(), m.count(), FormatMoney(m.amount()),
                              m.from_cell() == m.to_cell() ? "  (stays)" : ""));
  }
  if (!r.moved_opportunities().empty()) {
    absl::StrAppend(&out, "moved, highest priority first",
                    r.moved_opportunities_size() < r.moved()
                        ? absl::StrCat(" (", r.moved_opportunities_size(),
                                       " of ", r.moved(), ")")
                        : "",
                    ":\n");
    for (const v1::MovedOpportunity& m : r.moved_opportunities()) {
      absl::StrAppend(
          &out, absl::StrFormat("  %-20s %s -> %s  potential %.2f relationship "
                                "%.2f priority %.2f\n",
                                m.opportunity_id(), m.from_cell(), m.to_cell(),
                                m.potential_score(), m.relationship_score(),
                                m.priority_score()));
    }
  }
  return out;
}

}  // namespace oppmatrix
