#include "clients/oppctl/matrix_svg.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/oppctl/format.h"

namespace oppmatrix {
namespace {

// One colour per cell, best standing first (the default ruleset's KEY,
// DEVELOP, MAINTAIN, EXIT get green, blue, amber, red).
constexpr const char* kPalette[] = {"#2e7d32", "#1565c0", "#e08e0b",
                                    "#c62828", "#6a1b9a", "#00838f",
                                    "#5d4037", "#ad1457", "#455a64"};
constexpr char kUnknownColour[] = "#9e9e9e";

constexpr double kLeft = 70, kRight = 250, kTop = 92, kBottom = 62;
constexpr double kMinRadius = 2.5, kMaxRadius = 16;

double Amount(const google::type::Money& m) {
  return static_cast<double>(m.units()) + m.nanos() / 1e9;
}

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

// Rough width of `text` in px at `font_size` (sans-serif averages about
// 0.6 em per character); enough to size a label's backing box.
double TextWidth(const std::string& text, double font_size) {
  size_t chars = 0;
  for (unsigned char ch : text) chars += (ch & 0xC0) != 0x80;
  return chars * font_size * 0.6;
}

// `text` cut (at a character, with an ellipsis) to fit `max_width` px.
std::string Fit(const std::string& text, double font_size, double max_width) {
  if (TextWidth(text, font_size) <= max_width) return text;
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    while (i + len < text.size() && (text[i + len] & 0xC0) == 0x80) ++len;
    if (TextWidth(out + text.substr(i, len) + "…", font_size) > max_width) {
      break;
    }
    out += text.substr(i, len);
    i += len;
  }
  return out + "…";
}

// Bounds of band `band` on a 0-100 axis cut at `cuts`.
std::pair<double, double> BandRange(
    const google::protobuf::RepeatedField<double>& cuts, int band) {
  double lo = band <= 0 ? 0 : cuts.Get(std::min(band, cuts.size()) - 1);
  double hi = band >= cuts.size() ? 100 : cuts.Get(band);
  return {std::clamp(lo, 0.0, 100.0), std::clamp(hi, 0.0, 100.0)};
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  // Decodes UTF-8; what XML 1.0 does not allow (control characters but
  // tab and newline, surrogates, U+FFFE, U+FFFF, malformed bytes) becomes
  // U+FFFD.
  constexpr char kReplacement[] = "\xEF\xBF\xBD";
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = text[i];
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&apos;";
          break;
        default:
          if (c < 0x20 && c != '\t' && c != '\n') {
            out += kReplacement;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    int len = (c >> 5) == 0x6    ? 2
              : (c >> 4) == 0xE  ? 3
              : (c >> 3) == 0x1E ? 4
                                 : 0;
    uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      const unsigned char cc = text[i + k];
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {  // a malformed byte: replace it alone
      out += kReplacement;
      ++i;
      continue;
    }
    // Overlong forms, surrogates, beyond U+10FFFF, and XML's two
    // non-characters: the whole sequence is replaced.
    const bool allowed =
        !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) &&
        !(len == 4 && cp < 0x10000) && !(cp >= 0xD800 && cp <= 0xDFFF) &&
        cp <= 0x10FFFF && cp != 0xFFFE && cp != 0xFFFF;
    if (allowed) {
      out.append(text, i, len);
    } else {
      out += kReplacement;
    }
    i += len;
  }
  return out;
}

std::string RenderMatrixSvg(const v1::GetMatrixResponse& matrix,
                            const std::vector<v1::Classification>& points,
                            const MatrixSvgOptions& options) {
  const double w = options.width, h = options.height;
  const double plot_w = w - kLeft - kRight, plot_h = h - kTop - kBottom;
  auto x_of = [&](double score) {
    return kLeft + std::clamp(score, 0.0, 100.0) / 100.0 * plot_w;
  };
  auto y_of = [&](double score) {
    return kTop + plot_h - std::clamp(score, 0.0, 100.0) / 100.0 * plot_h;
  };

  std::map<std::string, std::string> colour;
  int64_t total_count = 0;
  double total_amount = 0;
  std::string currency;
  // Colours by standing: the best cell (highest bands) first, so KEY is
  // green and EXIT red whatever order the cells come in.
  std::vector<const v1::MatrixCellSummary*> by_standing;
  for (const v1::MatrixCellSummary& cell : matrix.cells()) {
    by_standing.push_back(&cell);
  }
  std::stable_sort(by_standing.begin(), by_standing.end(),
                   [](const auto* a, const auto* b) {
                     int sa = a->potential_band() + a->relationship_band();
                     int sb = b->potential_band() + b->relationship_band();
                     if (sa != sb) return sa > sb;
                     return a->potential_band() > b->potential_band();
                   });
  for (size_t i = 0; i < by_standing.size(); ++i) {
    colour[by_standing[i]->cell()] = kPalette[i % std::size(kPalette)];
  }
  for (int i = 0; i < matrix.cells_size(); ++i) {
    const v1::MatrixCellSummary& cell = matrix.cells(i);
    total_count += cell.count();
    total_amount += Amount(cell.total_amount());
    if (currency.empty()) currency = cell.total_amount().currency_code();
  }
  auto colour_of = [&](const std::string& cell) {
    auto it = colour.find(cell);
    return it == colour.end() ? std::string(kUnknownColour) : it->second;
  };
  google::type::Money total_money;
  total_money.set_currency_code(currency);
  total_money.set_units(static_cast<int64_t>(std::llround(total_amount)));

  std::string svg = absl::StrFormat(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<rect width="100%%" height="100%%" fill="#ffffff"/>
)",
      options.width, options.height, options.width, options.height);

  // Title and subtitle.
  absl::StrAppend(
      &svg, R"(<text x=")", Num(kLeft), R"(" y="34" font-size="22" )",
      R"(font-weight="bold" fill="#212121">Sales opportunity matrix: tenant )",
      XmlEscape(matrix.tenant_id()), "</text>\n");
  std::string sub =
      absl::StrCat("ruleset ", matrix.ruleset_version(), " · ", total_count,
                   " opportunities · ", FormatMoney(total_money));
  if (!options.subtitle.empty()) absl::StrAppend(&sub, " · ", options.subtitle);
  absl::StrAppend(&svg, R"(<text x=")", Num(kLeft),
                  R"(" y="58" font-size="13" fill="#616161">)", XmlEscape(sub),
                  "</text>\n");

  // Cell backgrounds.
  absl::StrAppend(&svg, "<g id=\"cells\">\n");
  for (const v1::MatrixCellSummary& cell : matrix.cells()) {
    auto [x0, x1] =
        BandRange(matrix.potential_thresholds(), cell.potential_band());
    auto [y0, y1] =
        BandRange(matrix.relationship_thresholds(), cell.relationship_band());
    absl::StrAppend(
        &svg,
        absl::StrFormat(R"(<rect x="%s" y="%s" width="%s" )"
                        R"(height="%s" fill="%s" )"
                        R"(fill-opacity="0.09"/>)",
                        Num(x_of(x0)), Num(y_of(y1)), Num(x_of(x1) - x_of(x0)),
                        Num(y_of(y0) - y_of(y1)), colour_of(cell.cell())),
        "\n");
  }
  absl::StrAppend(&svg, "</g>\n");

  // Axes: frame, ticks every 10, the ruleset's cut lines.
  absl::StrAppend(&svg, "<g id=\"axes\" font-size=\"11\" fill=\"#616161\">\n");
  absl::StrAppend(
      &svg,
      absl::StrFormat(R"(<rect x="%s" y="%s" width="%s" height="%s" )"
                      R"(fill="none" stroke="#757575"/>)",
                      Num(kLeft), Num(kTop), Num(plot_w), Num(plot_h)),
      "\n");
  for (int t = 0; t <= 100; t += 10) {
    absl::StrAppend(
        &svg,
        absl::StrFormat(R"(<line x1="%s" y1="%s" x2="%s" y2="%s" )"
                        R"(stroke="#757575"/>)",
                        Num(x_of(t)), Num(kTop + plot_h), Num(x_of(t)),
                        Num(kTop + plot_h + 5)),
        absl::StrFormat(R"(<text x="%s" y="%s" text-anchor="middle">%d</text>)",
                        Num(x_of(t)), Num(kTop + plot_h + 18), t),
        absl::StrFormat(R"(<line x1="%s" y1="%s" x2="%s" y2="%s" )"
                        R"(stroke="#757575"/>)",
                        Num(kLeft - 5), Num(y_of(t)), Num(kLeft), Num(y_of(t))),
        absl::StrFormat(R"(<text x="%s" y="%s" text-anchor="end">%d</text>)",
                        Num(kLeft - 8), Num(y_of(t) + 4), t),
        "\n");
  }
  for (double cut : matrix.potential_thresholds()) {
    absl::StrAppend(&svg,
                    absl::StrFormat(R"(<line x1="%s" y1="%s" x2="%s" y2="%s" )"
                                    R"(stroke="#424242" stroke-width="1.5" )"
                                    R"(stroke-dasharray="6 4"/>)",
                                    Num(x_of(cut)), Num(kTop), Num(x_of(cut)),
                                    Num(kTop + plot_h)),
                    "\n");
  }
  for (double cut : matrix.relationship_thresholds()) {
    absl::StrAppend(&svg,
                    absl::StrFormat(R"(<line x1="%s" y1="%s" x2="%s" y2="%s" )"
                                    R"(stroke="#424242" stroke-width="1.5" )"
                                    R"(stroke-dasharray="6 4"/>)",
                                    Num(kLeft), Num(y_of(cut)),
                                    Num(kLeft + plot_w), Num(y_of(cut))),
                    "\n");
  }
  absl::StrAppend(
      &svg,
      absl::StrFormat(R"(<text x="%s" y="%s" text-anchor="middle" )"
                      R"(font-size="13" fill="#212121">)"
                      R"(customer potential →</text>)",
                      Num(kLeft + plot_w / 2), Num(h - 18)),
      absl::StrFormat(R"svg(<text transform="translate(%s,%s) rotate(-90)" )svg"
                      R"(text-anchor="middle" font-size="13" )"
                      R"(fill="#212121">relationship quality →</text>)",
                      Num(22), Num(kTop + plot_h / 2)),
      "\n</g>\n");

  // The opportunities, largest first so small dots stay visible on top.
  double max_amount = 0;
  for (const v1::Classification& c : points) {
    max_amount = std::max(max_amount, Amount(c.amount()));
  }
  auto radius_of = [&](double amount) {
    if (max_amount <= 0 || amount <= 0) return kMinRadius;
    return kMinRadius +
           (kMaxRadius - kMinRadius) * std::sqrt(amount / max_amount);
  };
  std::vector<const v1::Classification*> order;
  order.reserve(points.size());
  for (const v1::Classification& c : points) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return Amount(a->amount()) > Amount(b->amount());
  });
  absl::StrAppend(&svg, "<g id=\"opportunities\" stroke-width=\"0.8\">\n");
  for (const v1::Classification* c : order) {
    std::string fill = colour_of(c->cell());
    absl::StrAppend(
        &svg,
        absl::StrFormat(
            R"(<circle cx="%s" cy="%s" r="%s" fill="%s" fill-opacity="0.55" )"
            R"(stroke="%s"><title>%s · %s · %s · potential %.1f, )"
            R"(relationship %.1f</title></circle>)",
            Num(x_of(c->potential_score())), Num(y_of(c->relationship_score())),
            Num(radius_of(Amount(c->amount()))), fill, fill,
            XmlEscape(c->opportunity_id()), XmlEscape(c->cell()),
            XmlEscape(FormatMoney(c->amount())), c->potential_score(),
            c->relationship_score()),
        "\n");
  }
  absl::StrAppend(&svg, "</g>\n");

  // Cell labels, on a light backing so the dots don't hide them; fitted
  // into the cell (shortened with an ellipsis, fewer lines in a low cell).
  absl::StrAppend(&svg, "<g id=\"labels\">\n");
  for (const v1::MatrixCellSummary& cell : matrix.cells()) {
    auto [x0, x1] =
        BandRange(matrix.potential_thresholds(), cell.potential_band());
    auto [y0, y1] =
        BandRange(matrix.relationship_thresholds(), cell.relationship_band());
    const double cell_w = x_of(x1) - x_of(x0), cell_h = y_of(y0) - y_of(y1);
    const double max_text_w = cell_w - 24;
    if (max_text_w < 30 || cell_h < 30) continue;  // no room for a label
    const int lines = cell_h >= 70 ? 3 : 1;
    std::string line1 =
        Fit(absl::StrCat(cell.cell(), "  ", cell.label()), 13, max_text_w);
    std::string line2 =
        Fit(absl::StrCat("→ ", cell.action().code()), 12, max_text_w);
    std::string line3 = Fit(absl::StrCat(cell.count(), " opportunities · ",
                                         FormatMoney(cell.total_amount())),
                            12, max_text_w);
    double bx = x_of(x0) + 6, by = y_of(y1) + 6;
    double bw = TextWidth(line1, 13);
    if (lines == 3) {
      bw = std::max({bw, TextWidth(line2, 12), TextWidth(line3, 12)});
    }
    bw += 12;
    const double bh = lines == 3 ? 56 : 24;
    std::string fill = colour_of(cell.cell());
    absl::StrAppend(
        &svg,
        absl::StrFormat(R"(<rect x="%s" y="%s" width="%s" height="%s" )"
                        R"(rx="4" fill="#ffffff" fill-opacity="0.85" )"
                        R"(stroke="%s"/>)",
                        Num(bx), Num(by), Num(bw), Num(bh), fill),
        "\n",
        absl::StrFormat(R"(<text x="%s" y="%s" font-size="13" )"
                        R"(font-weight="bold" fill="%s">%s</text>)",
                        Num(bx + 6), Num(by + 17), fill, XmlEscape(line1)),
        "\n");
    if (lines == 3) {
      absl::StrAppend(
          &svg,
          absl::StrFormat(R"(<text x="%s" y="%s" font-size="12" )"
                          R"(fill="#424242">%s</text>)",
                          Num(bx + 6), Num(by + 33), XmlEscape(line2)),
          "\n",
          absl::StrFormat(R"(<text x="%s" y="%s" font-size="12" )"
                          R"(fill="#424242">%s</text>)",
                          Num(bx + 6), Num(by + 49), XmlEscape(line3)),
          "\n");
    }
  }
  absl::StrAppend(&svg, "</g>\n");

  // Legend: cells, then dot sizes.
  double lx = kLeft + plot_w + 28, ly = kTop + 8;
  absl::StrAppend(&svg, "<g id=\"legend\" font-size=\"12\" fill=\"#212121\">\n",
                  absl::StrFormat(R"(<text x="%s" y="%s" font-weight="bold">)"
                                  R"(cells</text>)",
                                  Num(lx), Num(ly)),
                  "\n");
  ly += 22;
  for (const v1::MatrixCellSummary* c : by_standing) {
    const v1::MatrixCellSummary& cell = *c;
    std::string fill = colour_of(cell.cell());
    absl::StrAppend(
        &svg,
        absl::StrFormat(R"(<circle cx="%s" cy="%s" r="6" fill="%s" )"
                        R"(fill-opacity="0.55" stroke="%s"/>)",
                        Num(lx + 6), Num(ly - 4), fill, fill),
        absl::StrFormat(R"(<text x="%s" y="%s">%s  %d</text>)", Num(lx + 18),
                        Num(ly), XmlEscape(cell.cell()), cell.count()),
        "\n");
    ly += 20;
  }
  if (max_amount > 0) {
    ly += 14;
    absl::StrAppend(&svg,
                    absl::StrFormat(R"(<text x="%s" y="%s" )"
                                    R"(font-weight="bold">amount</text>)",
                                    Num(lx), Num(ly)),
                    "\n");
    ly += 10;
    for (double fraction : {1.0, 0.25, 0.01}) {
      double r = radius_of(max_amount * fraction);
      google::type::Money m;
      m.set_currency_code(currency);
      m.set_units(static_cast<int64_t>(std::llround(max_amount * fraction)));
      ly += r + 4;
      absl::StrAppend(
          &svg,
          absl::StrFormat(R"(<circle cx="%s" cy="%s" r="%s" fill="none" )"
                          R"(stroke="#616161"/>)",
                          Num(lx + kMaxRadius), Num(ly), Num(r)),
          absl::StrFormat(R"(<text x="%s" y="%s">%s</text>)",
                          Num(lx + 2 * kMaxRadius + 10), Num(ly + 4),
                          XmlEscape(FormatMoney(m))),
          "\n");
      ly += r + 4;
    }
  }
  if (static_cast<int64_t>(points.size()) < total_count) {
    ly += 24;
    absl::StrAppend(
        &svg,
        absl::StrFormat(R"(<text x="%s" y="%s" fill="#616161">)"
                        R"(showing %d of %d,</text>)",
                        Num(lx), Num(ly), points.size(), total_count),
        absl::StrFormat(R"(<text x="%s" y="%s" fill="#616161">)"
                        R"(the top of each cell</text>)",
                        Num(lx), Num(ly + 16)),
        "\n");
  }
  absl::StrAppend(&svg, "</g>\n</svg>\n");
  return svg;
}

}  // namespace oppmatrix
