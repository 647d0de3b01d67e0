// BackgroundSink: batches reach the inner sink in order, on another thread,
// with bounded memory, and the inner sink's errors come back to the caller.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/background_sink.hpp"

using namespace fanout;

namespace {

Batch batch_of(std::uint64_t first, std::size_t n) {
  Batch b;
  for (std::size_t i = 0; i < n; ++i) {
    TaskRecord r;
    r.id = first + i;
    b.records.push_back(r);
    b.rows.push_back(static_cast<std::byte>(first + i));
  }
  return b;
}

// Records what it gets; can be held shut, and can fail.
class Recorder : public TaskSink {
 public:
  void store(std::span<const TaskRecord> records, std::span<const std::byte> rows) override {
    std::unique_lock lock(mutex);
    open_cv.wait(lock, [this] { return open; });
    if (fail_at_id && !records.empty() && records.front().id == *fail_at_id) throw std::runtime_error("disk full");
    for (std::size_t i = 0; i < records.size(); ++i) {
      ids.push_back(records[i].id);
      bytes.push_back(rows[i]);
    }
    thread = std::this_thread::get_id();
  }
  void store_errors(std::span<const TaskError> errors) override {
    std::lock_guard lock(mutex);
    for (const auto& e : errors) messages.push_back(e.message);
  }
  void set_open(bool o) {
    {
      std::lock_guard lock(mutex);
      open = o;
    }
    open_cv.notify_all();
  }
  std::mutex mutex;
  std::condition_variable open_cv;
  bool open = true;
  std::optional<std::uint64_t> fail_at_id;
  std::vector<std::uint64_t> ids;
  std::vector<std::byte> bytes;
  std::vector<std::string> messages;
  std::thread::id thread;
};

}  // namespace

TEST(BackgroundSink, PassesBatchesOnInOrderOnItsOwnThread) {
  Recorder inner;
  {
    BackgroundSink sink(inner, 1 << 20);
    for (std::uint64_t k = 0; k < 50; ++k) sink.store(batch_of(k * 10, 10));
    TaskError e;
    e.id = 7;
    e.message = "task 7 refused";
    sink.store_errors(std::vector<TaskError>{e});
    sink.drain();
    ASSERT_EQ(inner.ids.size(), 500u);
    for (std::uint64_t i = 0; i < 500; ++i) {
      EXPECT_EQ(inner.ids[i], i);
      EXPECT_EQ(inner.bytes[i], static_cast<std::byte>(i));
    }
    EXPECT_EQ(inner.messages, std::vector<std::string>{"task 7 refused"});
    EXPECT_NE(inner.thread, std::this_thread::get_id());
  }
}

TEST(BackgroundSink, WaitsWhenTheQueueIsFull) {
  Recorder inner;
  inner.set_open(false);
  const std::size_t batch_bytes = 100 * (sizeof(TaskRecord) + 1);
  BackgroundSink sink(inner, 3 * batch_bytes);
  // The thread takes the first batch and blocks in the inner sink; a batch
  // counts until the inner sink has it, so three fill the queue.
  for (std::uint64_t k = 0; k < 3; ++k) sink.store(batch_of(k * 100, 100));
  std::atomic<bool> stored{false};
  std::thread producer([&] {
    sink.store(batch_of(300, 100));
    stored = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(stored.load()) << "store() returned with the queue full";
  inner.set_open(true);
  producer.join();
  EXPECT_TRUE(stored.load());
  sink.drain();
  EXPECT_EQ(inner.ids.size(), 400u);
}

TEST(BackgroundSink, ErrorsOfTheInnerSinkReachTheCaller) {
  Recorder inner;
  inner.fail_at_id = 20;
  BackgroundSink sink(inner, 1 << 20);
  sink.store(batch_of(0, 10));
  sink.store(batch_of(10, 10));
  sink.store(batch_of(20, 10));
  EXPECT_THROW(sink.drain(), std::runtime_error);
  EXPECT_THROW(sink.poll(), std::runtime_error);
  EXPECT_THROW(sink.store(batch_of(30, 10)), std::runtime_error);
  EXPECT_EQ(inner.ids.size(), 20u);
}

// exclusive(): the inner sink has every batch stored before, and its writing
// thread leaves it alone (no poll) while the caller uses it (a file being
// published at a stop); afterwards the thread goes on as before.
TEST(BackgroundSink, ExclusiveRunsWithEveryBatchInAndNoPollMeanwhile) {
  class Polled : public Recorder {
   public:
    void poll() override {
      std::lock_guard lock(mutex);
      ++polls;
      if (inside) ++polls_inside;
    }
    int polls = 0;
    int polls_inside = 0;
    bool inside = false;
  };
  Polled inner;
  BackgroundSink sink(inner, 1 << 20);
  for (std::uint64_t k = 0; k < 20; ++k) sink.store(batch_of(k * 10, 10));
  sink.exclusive([&] {
    {
      std::lock_guard lock(inner.mutex);
      EXPECT_EQ(inner.ids.size(), 200u);
      inner.inside = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(350));  // over three of the thread's poll periods
    std::lock_guard lock(inner.mutex);
    inner.inside = false;
  });
  EXPECT_EQ(inner.polls_inside, 0);
  sink.store(batch_of(200, 10));
  sink.drain();
  EXPECT_EQ(inner.ids.size(), 210u);
  // The thread polls again (every 100 ms): wait for one, however loaded the machine.
  auto polls = [&] {
    std::lock_guard lock(inner.mutex);
    return inner.polls;
  };
  int before = polls();
  while (polls() == before) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}
