#pragma once
// The runner's point-to-point traffic on its own communicator: every MPI
// call checked (check_mpi), every message and byte counted for /ranks.
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace fanout {

struct Traffic {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

class Link {
 public:
  // `comm`: a communicator of the runner's own (a duplicate): probing for
  // any tag must never take a message of the caller's. Errors on it return
  // codes (MPI_ERRORS_RETURN), which every call checks.
  explicit Link(MPI_Comm comm);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  // Waits (quietly) for the sends still in flight.
  ~Link();

  int rank() const { return rank_; }
  int size() const { return size_; }
  // A message waiting from `source` (MPI_ANY_SOURCE) with `tag` (MPI_ANY_TAG)?
  std::optional<MPI_Status> probe(int source, int tag);
  // Receives the message `status` announced, whole, appended to `out` (rank
  // 0 reuses one buffer; a leader gathers its group's batches in one).
  void receive_append(const MPI_Status& status, std::vector<char>& out);
  std::vector<std::uint64_t> receive_words(const MPI_Status& status);
  // Small messages (a stop level, a signal report): a blocking send, which
  // returns at once for messages this small (eager protocol).
  void send_small(int dest, int tag, const void* data, int bytes);
  void receive_small(int source, int tag, void* data, int bytes);
  // Larger messages go out with MPI_Isend: a blocking send of a large
  // message waits, polling at full speed, until its receiver takes it, and on
  // a machine with as many busy threads as cores that polling is CPU the
  // workers lack. Messages from one rank to another arrive in the order sent.
  void send(int dest, int tag, std::vector<char>&& message);
  void send(int dest, int tag, std::vector<std::uint64_t>&& message);
  // Messages sent with send() not yet taken by their receiver (frees those that were).
  std::size_t in_flight();
  // An empty buffer, with the capacity of one whose send completed when
  // there is one (SPARES are kept): large buffers used again need no new
  // pages (each new page costs a fault and its zeroing).
  static constexpr std::size_t SPARES = 2;
  std::vector<char> spare();
  void wait_all();
  const Traffic& traffic() const { return traffic_; }

 private:
  struct Message {
    MPI_Request request = MPI_REQUEST_NULL;
    std::vector<char> data;
  };
  void count_in(std::size_t bytes);
  void keep_spare(std::vector<char>&& buffer);
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  std::deque<Message> out_;                // a deque: the buffers never move while in flight
  std::vector<std::vector<char>> spares_;  // buffers of completed sends, the largest kept
  Traffic traffic_;
};

}  // namespace fanout
