#include "core/records.hpp"

namespace fanout {

void share_cpu(std::span<TaskRecord> span, double user, double sys) {
  if (span.empty()) return;
  if (span.size() == 1) {
    span[0].cpu_user = user;
    span[0].cpu_sys = sys;
    span[0].cpu_shared = 0;
    return;
  }
  double wall = 0;
  for (const auto& r : span) wall += r.t_end - r.t_start;
  const double equal = 1.0 / static_cast<double>(span.size());
  for (auto& r : span) {
    double share = wall > 0 ? (r.t_end - r.t_start) / wall : equal;
    r.cpu_user = user * share;
    r.cpu_sys = sys * share;
    r.cpu_shared = 1;
  }
}

}  // namespace fanout
