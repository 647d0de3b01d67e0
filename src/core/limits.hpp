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

// The most ranks and worker threads per rank a run may have (fanout predict
// --ranks and run.threads_per_rank), and the most sessions (one fanout run
// plus its resumes: /tasks records a task's session in 16 bits). A run file
// or journal that claims more is damaged; its readers refuse it before they
// size anything by it.
inline constexpr std::int64_t MAX_RANKS = 10'000'000;
inline constexpr std::int64_t MAX_THREADS_PER_RANK = 1024;
inline constexpr std::int64_t MAX_SESSIONS = 65536;

}  // namespace fanout
