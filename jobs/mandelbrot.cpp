// mandelbrot: escape-time iteration counts of the Mandelbrot set over a
// rectangle of the complex plane, one task per row of pixels. The rows come
// back as an array column, /results/iterations (height x width): that is the
// image, stored once (the region is in the file's config attribute). Pure
// IEEE double arithmetic in a fixed order (this file is compiled with
// -ffp-contract=off), so the image is bit-identical whatever runs it, and
// tests/e2e/test_numeric_jobs.py checks it against numpy.
#include <cstdint>
#include <vector>

#include "config/params.hpp"
#include "core/job.hpp"

namespace fanout::jobs {
namespace {

struct Region {
  std::uint64_t width, height;
  double x_min, x_max, y_min, y_max;
  std::uint32_t max_iter;
};

class Mandelbrot : public Job {
 public:
  explicit Mandelbrot(const Region& region) : r_(region) {}

  std::uint64_t task_count() const override { return r_.height; }
  std::vector<Column> columns(std::vector<Column> registered) const override {
    registered[0].length = r_.width;
    return registered;
  }

  // Row `task` of the image, from the top (y_max) down; pixel centres.
  void run(std::uint64_t task, Row& row) const override {
    std::vector<std::uint32_t> counts(r_.width);
    const double cy =
        r_.y_max - (r_.y_max - r_.y_min) * ((static_cast<double>(task) + 0.5) / static_cast<double>(r_.height));
    for (std::uint64_t j = 0; j < r_.width; ++j) {
      const double cx =
          r_.x_min + (r_.x_max - r_.x_min) * ((static_cast<double>(j) + 0.5) / static_cast<double>(r_.width));
      double zx = 0, zy = 0;
      std::uint32_t n = 0;
      while (n < r_.max_iter) {
        const double zx2 = zx * zx;
        const double zy2 = zy * zy;
        if (zx2 + zy2 > 4.0) break;
        zy = 2.0 * zx * zy + cy;
        zx = zx2 - zy2 + cx;
        ++n;
      }
      counts[j] = n;
    }
    row.set<std::uint32_t>(0, counts);
  }

 private:
  Region r_;
};

const RegisterJob registered{{
    "mandelbrot",
    "escape-time iteration counts of the Mandelbrot set over a region, one task per row; the image is "
    "/results/iterations",
    {{"iterations", ColumnType::U32, "",
      "the row's iteration counts, one per pixel from x_min to x_max (width values); task 0 is the top row (y_max)",
      0}},
    [](config::Section& params) -> std::unique_ptr<Job> {
      Region r{};
      r.width = params.whole("width", 800, 1, 65536, "pixels per row");
      r.height = params.whole("height", 600, 1, 65536, "rows of pixels; one task per row");
      r.x_min = params.number("x_min", -2.25, -1e6, 1e6, "real part at the left edge of the image");
      r.x_max = params.number("x_max", 0.75, -1e6, 1e6, "real part at the right edge");
      r.y_min = params.number("y_min", -1.125, -1e6, 1e6, "imaginary part at the bottom edge");
      r.y_max = params.number("y_max", 1.125, -1e6, 1e6, "imaginary part at the top edge");
      r.max_iter = static_cast<std::uint32_t>(
          params.whole("max_iter", 500, 1, 1'000'000'000, "iterations before a point counts as inside the set"));
      if (!params.describing() && !(r.x_min < r.x_max)) params.fail("x_max", "must be greater than x_min");
      if (!params.describing() && !(r.y_min < r.y_max)) params.fail("y_max", "must be greater than y_min");
      return std::make_unique<Mandelbrot>(r);
    },
}};

}  // namespace
}  // namespace fanout::jobs
