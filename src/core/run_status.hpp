#pragma once
// How a run ended (the run file's root attribute `status`) and the phases of
// /phases: enums in the code, their names in the file, mapped here only
// (docs/file-format.md#status, #phases).
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fanout {

enum class RunStatus : std::uint8_t { Complete, Partial, Failed };
inline constexpr std::array<std::string_view, 3> RUN_STATUS_NAMES{"complete", "partial", "failed"};

enum class Phase : std::uint8_t { Setup, Distribute, Compute, Collect, Write };
inline constexpr std::array<std::string_view, 5> PHASE_NAMES{"setup", "distribute", "compute", "collect", "write"};

constexpr std::string_view status_name(RunStatus status) { return RUN_STATUS_NAMES[static_cast<std::size_t>(status)]; }
constexpr std::string_view phase_name(Phase phase) { return PHASE_NAMES[static_cast<std::size_t>(phase)]; }

// nullopt for a name the file format does not define (a damaged or newer file).
constexpr std::optional<RunStatus> parse_status(std::string_view name) {
  for (std::size_t i = 0; i < RUN_STATUS_NAMES.size(); ++i)
    if (RUN_STATUS_NAMES[i] == name) return static_cast<RunStatus>(i);
  return std::nullopt;
}
constexpr std::optional<Phase> parse_phase(std::string_view name) {
  for (std::size_t i = 0; i < PHASE_NAMES.size(); ++i)
    if (PHASE_NAMES[i] == name) return static_cast<Phase>(i);
  return std::nullopt;
}

static_assert(parse_status("partial") == RunStatus::Partial && parse_phase("write") == Phase::Write &&
              !parse_status("interrupted"));

}  // namespace fanout
