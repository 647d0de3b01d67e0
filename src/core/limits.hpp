#pragma once
// Limits that every layer checks against, in one place.

#include <cstdint>

namespace fanout {

// The most tasks a run may have, whatever makes them (tasks = N, a sweep, a
// job's own list). Rank 0 keeps one bit per task (1.25 GB at this limit)
// and the file one record per task in /tasks (about 60 bytes each: 600 GB
// at this limit), so a larger count would fail for memory or disk anyway;
// it is refused when the config is read, before anything is written.
inline constexpr std::uint64_t MAX_TASKS = 10'000'000'000ULL;
inline constexpr const char* MAX_TASKS_TEXT = "10^10";

}  // namespace fanout
