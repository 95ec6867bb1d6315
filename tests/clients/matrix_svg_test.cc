#include "clients/oppctl/matrix_svg.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace oppmatrix {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::GetMatrixResponse Matrix() {
  v1::GetMatrixResponse m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        tenant_id: "R&D <west>"
        ruleset_version: "default@1"
        potential_thresholds: 50
        relationship_thresholds: 50
        cells { cell: "EXIT" potential_band: 0 relationship_band: 0 count: 1 }
        cells {
          cell: "KEY"
          label: "Key: invest"
          potential_band: 1
          relationship_band: 1
          count: 2
          action { code: "INVEST_DEEPLY" }
          total_amount { currency_code: "USD" units: 1500000 }
        }
      )pb",
      &m));
  return m;
}

v1::Classification Point(const std::string& id, const std::string& cell,
                         double p, double r, int64_t amount) {
  v1::Classification c;
  c.set_opportunity_id(id);
  c.set_cell(cell);
  c.set_potential_score(p);
  c.set_relationship_score(r);
  c.mutable_amount()->set_currency_code("USD");
  c.mutable_amount()->set_units(amount);
  return c;
}

TEST(MatrixSvgTest, EscapesTextAndPlacesEachDot) {
  std::string svg = RenderMatrixSvg(
      Matrix(),
      {Point("o<1>", "KEY", 100, 100, 1000000),
       Point("o2", "KEY", 75, 60, 500000), Point("o3", "EXIT", 0, 0, 0)},
      {.width = 1000, .height = 760, .subtitle = ""});
  EXPECT_THAT(svg, HasSubstr("tenant R&amp;D &lt;west&gt;"));
  EXPECT_THAT(svg, HasSubstr("o&lt;1&gt;"));
  EXPECT_THAT(svg, Not(HasSubstr("o<1>")));
  // Plot area x 70..750, y 92..698: score 100/100 is the top right corner,
  // 0/0 the bottom left; the largest amount gets the largest radius.
  EXPECT_THAT(svg, HasSubstr(R"(<circle cx="750.0" cy="92.0" r="16.0")"));
  EXPECT_THAT(svg, HasSubstr(R"(<circle cx="70.0" cy="698.0" r="2.5")"));
  // KEY green, EXIT red, whatever their order.
  EXPECT_THAT(svg, HasSubstr(R"(fill="#2e7d32">KEY  Key: invest)"));
  EXPECT_THAT(svg, HasSubstr("2 opportunities · 1.5M USD"));
  EXPECT_THAT(svg, Not(HasSubstr("showing")));
}

TEST(MatrixSvgTest, SaysWhenItShowsFewerThanAll) {
  std::string svg = RenderMatrixSvg(Matrix(), {Point("o1", "KEY", 80, 80, 1)});
  EXPECT_THAT(svg, HasSubstr("showing 1 of 3,"));
}

TEST(MatrixSvgTest, LabelsFitNarrowCells) {
  v1::GetMatrixResponse m;
  m.set_tenant_id("t");
  for (double cut : {10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0}) {
    m.add_potential_thresholds(cut);
  }
  m.add_relationship_thresholds(50);
  for (int band = 0; band < 10; ++band) {
    v1::MatrixCellSummary* c = m.add_cells();
    c->set_cell(absl::StrCat("CELL", band));
    c->set_label("A label far too long for a tenth of the plane");
    c->set_potential_band(band);
    c->set_relationship_band(1);
  }
  std::string svg = RenderMatrixSvg(m, {});
  // Cells are 68 px wide: the label is shortened, never the whole text.
  EXPECT_THAT(svg, HasSubstr("…"));
  EXPECT_THAT(svg, Not(HasSubstr("far too long for a tenth")));
}

TEST(XmlEscapeTest, EscapesMarkupAndReplacesWhatXmlForbids) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(XmlEscape("a&b<c>\"d'\x01"),
            "a&amp;b&lt;c&gt;&quot;d&apos;" + fffd);
  // Chinese text passes; U+FFFE, a lone surrogate and a stray byte don't.
  EXPECT_EQ(XmlEscape("华为"), "华为");
  EXPECT_EQ(XmlEscape("x\xEF\xBF\xBEy"), "x" + fffd + "y");
  EXPECT_EQ(XmlEscape("\xED\xA0\x80"), fffd);
  EXPECT_EQ(XmlEscape("\xFF"), fffd);
  EXPECT_EQ(XmlEscape("\xC3"), fffd);  // cut short
}

}  // namespace
}  // namespace oppmatrix
