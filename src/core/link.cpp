#include "core/link.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/mpi_check.hpp"
#include "core/pacing.hpp"

namespace fanout {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) std::snprintf(text, sizeof text, "error code %d", rc);
  throw MpiError(std::string("MPI error in ") + what + ": " + text);
}

Link::Link(MPI_Comm comm) : comm_(comm) {
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

Link::~Link() {
  try {
    wait_all();
  } catch (...) {  // the run is failing already: do not throw from a destructor
  }
}

std::optional<MPI_Status> Link::probe(int source, int tag) {
  int flag = 0;
  MPI_Status status;
  check_mpi(MPI_Iprobe(source, tag, comm_, &flag, &status), "MPI_Iprobe");
  if (!flag) return std::nullopt;
  return status;
}

void Link::count_in(std::size_t bytes) {
  ++traffic_.messages_in;
  traffic_.bytes_in += bytes;
}

void Link::receive_append(const MPI_Status& status, std::vector<char>& out) {
  int count = 0;
  check_mpi(MPI_Get_count(&status, MPI_CHAR, &count), "MPI_Get_count");
  const std::size_t at = out.size();
  out.resize(at + static_cast<std::size_t>(count));
  check_mpi(MPI_Recv(out.data() + at, count, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, comm_, MPI_STATUS_IGNORE),
            "MPI_Recv");
  count_in(static_cast<std::size_t>(count));
}

std::vector<std::uint64_t> Link::receive_words(const MPI_Status& status) {
  int count = 0;
  check_mpi(MPI_Get_count(&status, MPI_CHAR, &count), "MPI_Get_count");
  if (count < 0 || count % 8 != 0)
    throw MpiError("a work message of " + std::to_string(count) + " bytes (not whole words)");
  std::vector<std::uint64_t> message(static_cast<std::size_t>(count) / 8);
  check_mpi(MPI_Recv(message.data(), count, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, comm_, MPI_STATUS_IGNORE),
            "MPI_Recv");
  count_in(static_cast<std::size_t>(count));
  return message;
}

void Link::send_small(int dest, int tag, const void* data, int bytes) {
  check_mpi(MPI_Send(data, bytes, MPI_CHAR, dest, tag, comm_), "MPI_Send");
  ++traffic_.messages_out;
  traffic_.bytes_out += static_cast<std::uint64_t>(bytes);
}

void Link::receive_small(int source, int tag, void* data, int bytes) {
  MPI_Status status;
  check_mpi(MPI_Recv(data, bytes, MPI_CHAR, source, tag, comm_, &status), "MPI_Recv");
  int count = 0;
  check_mpi(MPI_Get_count(&status, MPI_CHAR, &count), "MPI_Get_count");
  if (count != bytes)
    throw MpiError("a control message of " + std::to_string(count) + " bytes, expected " + std::to_string(bytes));
  count_in(static_cast<std::size_t>(bytes));
}

void Link::send(int dest, int tag, std::vector<char>&& message) {
  out_.push_back({MPI_REQUEST_NULL, std::move(message)});
  auto& m = out_.back();
  check_mpi(MPI_Isend(m.data.data(), static_cast<int>(m.data.size()), MPI_CHAR, dest, tag, comm_, &m.request),
            "MPI_Isend");
  ++traffic_.messages_out;
  traffic_.bytes_out += m.data.size();
}

void Link::send(int dest, int tag, std::vector<std::uint64_t>&& message) {
  std::vector<char> bytes(message.size() * sizeof(std::uint64_t));
  if (!bytes.empty()) std::memcpy(bytes.data(), message.data(), bytes.size());
  send(dest, tag, std::move(bytes));
}

std::size_t Link::in_flight() {
  while (!out_.empty()) {
    int done = 0;
    check_mpi(MPI_Test(&out_.front().request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (!done) break;
    keep_spare(std::move(out_.front().data));
    out_.pop_front();
  }
  return out_.size();
}

void Link::keep_spare(std::vector<char>&& buffer) {
  if (buffer.capacity() == 0) return;
  if (spares_.size() < SPARES) {
    spares_.push_back(std::move(buffer));
    return;
  }
  auto smallest = std::min_element(spares_.begin(), spares_.end(),
                                   [](const auto& a, const auto& b) { return a.capacity() < b.capacity(); });
  if (smallest->capacity() < buffer.capacity()) *smallest = std::move(buffer);
}

std::vector<char> Link::spare() {
  if (spares_.empty()) return {};
  auto largest = std::max_element(spares_.begin(), spares_.end(),
                                  [](const auto& a, const auto& b) { return a.capacity() < b.capacity(); });
  std::vector<char> buffer = std::move(*largest);
  spares_.erase(largest);
  buffer.clear();
  return buffer;
}

void Link::wait_all() {
  wait_quietly([this] { return in_flight() == 0; });
}

}  // namespace fanout
