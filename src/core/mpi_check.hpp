#pragma once
// Every raw MPI call of the runner goes through check(): a failed call (the
// runner's communicator returns errors instead of aborting) becomes an
// MpiError naming the call and MPI's own message, never a loop that spins.
#include <string>

#include "core/error.hpp"

namespace fanout {

// An MPI call failed: the run cannot go on. Exit code 3 (like a failed write:
// the results could not be moved), and main ends every rank.
class MpiError : public Error {
 public:
  explicit MpiError(const std::string& message) : Error(EXIT_IO, message) {}
};

// Throws MpiError("MPI error in WHAT: MPI's message") unless rc is MPI_SUCCESS.
void check_mpi(int rc, const char* what);

}  // namespace fanout
