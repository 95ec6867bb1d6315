// Draws a tenant's sales opportunity matrix as an SVG picture: the customer
// potential x relationship quality plane (both scores 0-100), the ruleset's
// cell grid with each cell's id, label, action, count and total amount, and
// every opportunity given as a dot at its two scores, sized by amount
// (area proportional) and coloured by its cell. The title names the tenant
// and the ruleset version.
//
//   v1::GetMatrixResponse matrix = ...;        // GetMatrix
//   std::vector<v1::Classification> points = ...;  // ListOpportunities
//   WriteFile("matrix.svg", RenderMatrixSvg(matrix, points));
#ifndef OPPMATRIX_CLIENTS_OPPCTL_MATRIX_SVG_H_
#define OPPMATRIX_CLIENTS_OPPCTL_MATRIX_SVG_H_

#include <string>
#include <vector>

#include "oppmatrix/v1/classification.pb.h"
#include "oppmatrix/v1/classification_service.pb.h"

namespace oppmatrix {

struct MatrixSvgOptions {
  int width = 1000;
  int height = 760;
  // Shown under the title, e.g. "2026-11-23 10:00 UTC"; empty: nothing.
  std::string subtitle;
};

// A standalone SVG 1.1 document. `points` may be fewer than the matrix's
// total count (a cap): the picture then says how many it shows. Dots whose
// cell is not in `matrix` (an older ruleset) are grey.
std::string RenderMatrixSvg(const v1::GetMatrixResponse& matrix,
                            const std::vector<v1::Classification>& points,
                            const MatrixSvgOptions& options = {});

// `text` with &, <, >, " and ' escaped for XML.
std::string XmlEscape(const std::string& text);

}  // namespace oppmatrix

#endif  // OPPMATRIX_CLIENTS_OPPCTL_MATRIX_SVG_H_
