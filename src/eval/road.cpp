// ROAD (Rong et al. 2022): which pixels a percentile removes, and their noisy linear
// imputation (definitions: docs/eval.md, "ROAD").
#include <Eigen/Sparse>
#include <Eigen/SparseCholesky>
#include <cmath>
#include <random>

#include "camkit/error.hpp"
#include "camkit/faithfulness.hpp"

namespace camkit {

std::vector<unsigned char> road_removed(const std::vector<int>& order, double percent, bool morf) {
  if (!(percent > 0 && percent < 100))
    throw Error(ErrorCode::usage, "ROAD: percentile " + std::to_string(percent) +
                                      " is not between 0 and 100 (exclusive)");
  const size_t n = order.size();
  // As ROAD's ImputedDataset: int(width * height * th_p) pixels.
  const size_t k = static_cast<size_t>(static_cast<double>(n) * percent / 100);
  std::vector<unsigned char> removed(n, 0);
  for (size_t i = 0; i < k; ++i) removed[static_cast<size_t>(order[morf ? i : n - 1 - i])] = 1;
  return removed;
}

Prepared road_impute(const Prepared& input, const std::vector<unsigned char>& removed, double noise,
                     unsigned long long seed) {
  const int h = input.height, w = input.width;
  const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w);
  if (removed.size() != plane)
    throw Error(ErrorCode::usage, "ROAD: a mask of " + std::to_string(removed.size()) +
                                      " pixels for a " + std::to_string(w) + "x" +
                                      std::to_string(h) + " input");
  // Variable index of each removed pixel, in raster order.
  std::vector<int> var(plane, -1);
  std::vector<size_t> pixels;
  for (size_t p = 0; p < plane; ++p)
    if (removed[p]) {
      var[p] = static_cast<int>(pixels.size());
      pixels.push_back(p);
    }
  Prepared out = input;
  if (pixels.empty()) return out;
  if (pixels.size() == plane)
    throw Error(ErrorCode::usage, "ROAD: every pixel is removed; nothing to impute from");

  // Equation of removed pixel i: s_i x_i - sum_{removed j} w_ij x_j = sum_{kept j} w_ij v_j,
  // where s_i sums the weights of i's in-image neighbours. The matrix is symmetric (w_ij =
  // w_ji), diagonally dominant, and strictly so in the rows next to a kept pixel; the 8-
  // neighbour grid is connected, so with one kept pixel it is positive definite.
  struct Offset {
    int dy, dx;
    double weight;
  };
  static constexpr Offset kNeighbours[8] = {{1, 1, 1. / 12},  {0, 1, 1. / 6},  {-1, 1, 1. / 12},
                                            {1, -1, 1. / 12}, {0, -1, 1. / 6}, {-1, -1, 1. / 12},
                                            {1, 0, 1. / 6},   {-1, 0, 1. / 6}};
  const Eigen::Index n = static_cast<Eigen::Index>(pixels.size());
  const int channels = input.channels;
  std::vector<Eigen::Triplet<double>> entries;
  entries.reserve(pixels.size() * 9);
  Eigen::MatrixXd b = Eigen::MatrixXd::Zero(n, channels);
  for (Eigen::Index i = 0; i < n; ++i) {
    const int y = static_cast<int>(pixels[static_cast<size_t>(i)] / static_cast<size_t>(w));
    const int x = static_cast<int>(pixels[static_cast<size_t>(i)] % static_cast<size_t>(w));
    double sum = 0;
    for (const Offset& o : kNeighbours) {
      const int ny = y + o.dy, nx = x + o.dx;
      if (ny < 0 || nx < 0 || ny >= h || nx >= w) continue;
      sum += o.weight;
      const size_t q = static_cast<size_t>(ny) * static_cast<size_t>(w) + static_cast<size_t>(nx);
      if (var[q] >= 0) {
        entries.emplace_back(i, var[q], -o.weight);
      } else {
        for (int c = 0; c < channels; ++c)
          b(i, c) += o.weight * input.chw[static_cast<size_t>(c) * plane + q];
      }
    }
    entries.emplace_back(i, i, sum);
  }
  Eigen::SparseMatrix<double> a(n, n);
  a.setFromTriplets(entries.begin(), entries.end());
  const Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(a);
  if (solver.info() != Eigen::Success)
    throw Error(ErrorCode::usage, "ROAD: the imputation system could not be factorised");
  const Eigen::MatrixXd x = solver.solve(b);

  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  for (int c = 0; c < channels; ++c)
    for (Eigen::Index i = 0; i < n; ++i) {
      const double e = noise > 0 ? noise * gauss(rng) : 0.0;
      out.chw[static_cast<size_t>(c) * plane + pixels[static_cast<size_t>(i)]] =
          static_cast<float>(x(i, c) + e);
    }
  return out;
}

}  // namespace camkit
