// A node or group leader's stock of work (core/group_supply.hpp), without
// MPI: pieces to members, what it asks rank 0 for and when, parked members
// answered in order, "later", "no more work" and a stop passed on.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/group_supply.hpp"

using namespace fanout;
using protocol::Request;

namespace {

std::vector<std::uint64_t> ids_of(const sched::Work& work) {
  std::vector<std::uint64_t> ids;
  for (const auto& r : work.ranges)
    for (std::uint64_t id = r.begin; id < r.end; id += r.stride) ids.push_back(id);
  return ids;
}

std::vector<std::uint64_t> span(std::uint64_t begin, std::uint64_t end) {
  std::vector<std::uint64_t> ids;
  for (std::uint64_t id = begin; id < end; ++id) ids.push_back(id);
  return ids;
}

sched::Work ranges(std::vector<sched::TaskRange> r) { return {std::move(r), false}; }
const sched::Work LATER{{}, true};
const sched::Work DONE{};

// Who got what from answered() or stop(), in order.
std::vector<int> members_of(const std::vector<std::pair<int, sched::Work>>& answers) {
  std::vector<int> out;
  for (const auto& a : answers) out.push_back(a.first);
  return out;
}

// Asks rank 0 for what wanted() says, as the leader's loop does; returns the requests.
std::vector<Request> ask(GroupSupply& supply) {
  std::vector<Request> out = supply.wanted();
  for (const auto& r : out) supply.requested(r.for_rank);
  return out;
}

}  // namespace

// Leader 4 with members 5 and 6, 2 threads each: one stock for the group,
// asked for with the leader's rank, its 6 workers and ROUNDS rounds; a chunk is cut
// into ROUNDS pieces per member.
TEST(GroupSupply, SharedStockIsCutIntoPiecesPerMember) {
  static_assert(GroupSupply::ROUNDS == 2, "the figures below assume two rounds per request");
  GroupSupply supply(4, {4, 5, 6}, 2, false);
  EXPECT_FALSE(supply.take(5, false)) << "nothing in stock: parked";
  std::vector<Request> asked = ask(supply);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], (Request{false, 6, 4, 2})) << "an idle member waits: not ahead";
  EXPECT_TRUE(supply.wanted().empty()) << "one request at a time";
  EXPECT_EQ(supply.outstanding(), 1);
  EXPECT_FALSE(supply.take(6, false));

  auto answers = supply.answered(4, ranges({{0, 60, 1}}));
  EXPECT_EQ(supply.outstanding(), 0);
  ASSERT_EQ(members_of(answers), (std::vector<int>{5, 6})) << "in the order they asked";
  EXPECT_EQ(ids_of(answers[0].second), span(0, 10)) << "60 tasks, 2 rounds of 3 members: 10 each";
  EXPECT_EQ(ids_of(answers[1].second), span(10, 20));
  EXPECT_EQ(supply.stocked(), 40u);
  EXPECT_TRUE(ask(supply).empty()) << "a round of pieces is still in stock";
  auto own = supply.take(4, true);
  ASSERT_TRUE(own);
  EXPECT_EQ(ids_of(*own), span(20, 30));
  auto more = supply.take(5, true);
  ASSERT_TRUE(more);
  EXPECT_EQ(ids_of(*more), span(30, 40));
  EXPECT_EQ(supply.stocked(), 20u);

  // Less than a round of pieces left: ask ahead, before anyone waits.
  asked = ask(supply);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], (Request{true, 6, 4, 2}));
  EXPECT_TRUE(supply.answered(4, ranges({{60, 72, 1}})).empty()) << "nobody waits";
  EXPECT_EQ(supply.stocked(), 32u);
  auto next = supply.take(6, true);
  ASSERT_TRUE(next);
  EXPECT_EQ(ids_of(*next), span(40, 42)) << "the piece follows the last chunk: 12 / (2 x 3)";
}

// Pieces cut across ranges and through strided ones.
TEST(GroupSupply, PiecesCutAcrossRangesAndStrides) {
  GroupSupply supply(2, {2, 3}, 1, false);
  EXPECT_FALSE(supply.take(3, false));
  ask(supply);
  auto answers = supply.answered(2, ranges({{0, 1, 1}, {10, 15, 1}, {101, 112, 2}, {200, 212, 1}}));
  // 24 tasks, 2 rounds of 2 members: pieces of 6.
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(ids_of(answers[0].second), (std::vector<std::uint64_t>{0, 10, 11, 12, 13, 14}));
  auto second = supply.take(2, true);
  ASSERT_TRUE(second);
  EXPECT_EQ(ids_of(*second), (std::vector<std::uint64_t>{101, 103, 105, 107, 109, 111}));
  for (const auto& r : second->ranges) EXPECT_LE(r.end, 112u);
  EXPECT_EQ(supply.stocked(), 12u);
}

// A chunk smaller than the parked members: those served in turn, the rest
// still parked, and asked for again.
TEST(GroupSupply, MembersLeftWaitingAskAgain) {
  GroupSupply supply(0, {0, 1, 2, 3}, 1, false);
  for (int m : {3, 1, 2}) EXPECT_FALSE(supply.take(m, false));
  ask(supply);
  auto answers = supply.answered(0, ranges({{7, 9, 1}}));
  ASSERT_EQ(members_of(answers), (std::vector<int>{3, 1}));
  EXPECT_EQ(ids_of(answers[0].second), (std::vector<std::uint64_t>{7}));
  EXPECT_EQ(ids_of(answers[1].second), (std::vector<std::uint64_t>{8}));
  // A member asking now queues behind the one still parked.
  EXPECT_FALSE(supply.take(0, false));
  std::vector<Request> asked = ask(supply);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_FALSE(asked[0].ahead);
  answers = supply.answered(0, ranges({{20, 30, 1}}));
  ASSERT_EQ(members_of(answers), (std::vector<int>{2, 0}));
}

// Rank 0 says "later": every parked member hears it (an idle one asks again
// after a pause); a member asking ahead hears it at once, an idle one waits
// for a request, made not ahead.
TEST(GroupSupply, LaterIsPassedOn) {
  GroupSupply supply(4, {4, 5, 6}, 1, false);
  EXPECT_FALSE(supply.take(5, false));
  EXPECT_FALSE(supply.take(6, true));
  ask(supply);
  auto answers = supply.answered(4, LATER);
  ASSERT_EQ(members_of(answers), (std::vector<int>{5, 6}));
  for (const auto& [member, work] : answers) {
    EXPECT_TRUE(work.later) << member;
    EXPECT_TRUE(work.ranges.empty()) << member;
  }
  EXPECT_TRUE(supply.wanted().empty()) << "after later, no request ahead of need";
  auto ahead = supply.take(6, true);
  ASSERT_TRUE(ahead);
  EXPECT_TRUE(ahead->later);
  EXPECT_FALSE(supply.take(5, false));
  std::vector<Request> asked = ask(supply);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_FALSE(asked[0].ahead);
  answers = supply.answered(4, ranges({{0, 3, 1}}));
  ASSERT_EQ(members_of(answers), (std::vector<int>{5}));
  EXPECT_FALSE(answers[0].second.later);
  EXPECT_EQ(ids_of(answers[0].second), span(0, 1));
}

// "No more work" reaches every parked member and every later one; nothing
// more is asked for.
TEST(GroupSupply, DoneIsPassedOn) {
  GroupSupply supply(4, {4, 5, 6}, 1, false);
  EXPECT_FALSE(supply.take(6, false));
  EXPECT_FALSE(supply.take(4, true));
  ask(supply);
  auto answers = supply.answered(4, DONE);
  ASSERT_EQ(members_of(answers), (std::vector<int>{6, 4}));
  for (const auto& [member, work] : answers) EXPECT_TRUE(work.done()) << member;
  for (bool ahead : {false, true}) {
    auto late = supply.take(5, ahead);
    ASSERT_TRUE(late);
    EXPECT_TRUE(late->done());
  }
  EXPECT_TRUE(supply.wanted().empty());
  EXPECT_EQ(supply.outstanding(), 0);
}

// A stop: the parked members hear "no more work", the stock is dropped, an
// answer still on its way from rank 0 is taken and forgotten.
TEST(GroupSupply, StopAnswersTheParkedWithDone) {
  GroupSupply supply(4, {4, 5, 6}, 1, false);
  EXPECT_FALSE(supply.take(5, false));
  ask(supply);
  supply.answered(4, ranges({{0, 18, 1}}));  // pieces of 3
  EXPECT_EQ(supply.stocked(), 15u);
  for (int m : {4, 6, 4}) EXPECT_TRUE(supply.take(m, false));
  ask(supply);  // ahead: the stock is low
  EXPECT_EQ(supply.outstanding(), 1);
  for (int m : {6, 4}) EXPECT_TRUE(supply.take(m, false));
  EXPECT_EQ(supply.stocked(), 0u);
  EXPECT_FALSE(supply.take(5, false));
  auto answers = supply.stop();
  ASSERT_EQ(members_of(answers), (std::vector<int>{5}));
  EXPECT_TRUE(answers[0].second.done());
  EXPECT_EQ(supply.stocked(), 0u);
  EXPECT_TRUE(supply.wanted().empty());
  EXPECT_TRUE(supply.answered(4, ranges({{100, 200, 1}})).empty());
  EXPECT_EQ(supply.outstanding(), 0);
  EXPECT_EQ(supply.stocked(), 0u);
  auto after = supply.take(6, false);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->done());
}

// Static policies: a stock per member, asked for by the member's rank with
// one rank's workers; a member gets its whole share; stocks do not mix.
TEST(GroupSupply, PerMemberStocksAreKeyedByRank) {
  GroupSupply supply(4, {4, 5, 6}, 3, true);
  EXPECT_TRUE(supply.wanted().empty()) << "no prefetch of static shares";
  EXPECT_FALSE(supply.take(5, false));
  EXPECT_FALSE(supply.take(6, true));
  std::vector<Request> asked = ask(supply);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0], (Request{false, 3, 5}));
  EXPECT_EQ(asked[1], (Request{true, 3, 6}));
  EXPECT_EQ(supply.outstanding(), 2);

  auto answers = supply.answered(6, ranges({{6, 30, 3}}));
  ASSERT_EQ(members_of(answers), (std::vector<int>{6}));
  EXPECT_EQ(ids_of(answers[0].second), (std::vector<std::uint64_t>{6, 9, 12, 15, 18, 21, 24, 27}));
  answers = supply.answered(5, DONE);
  ASSERT_EQ(members_of(answers), (std::vector<int>{5}));
  EXPECT_TRUE(answers[0].second.done());
  // 6's stock is empty but not done: it waits and asks for its own share.
  EXPECT_FALSE(supply.take(6, false));
  asked = ask(supply);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].for_rank, 6);
  auto five = supply.take(5, false);
  ASSERT_TRUE(five);
  EXPECT_TRUE(five->done());
  // The leader's own share, untouched by the others'.
  EXPECT_FALSE(supply.take(4, false));
  asked = ask(supply);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], (Request{false, 3, 4}));
}

TEST(GroupSupply, MisuseIsALogicError) {
  GroupSupply shared(4, {4, 5}, 1, false);
  EXPECT_THROW(shared.answered(4, ranges({{0, 1, 1}})), std::logic_error) << "an answer nobody asked for";
  EXPECT_THROW(shared.take(7, false), std::out_of_range);
  GroupSupply own(4, {4, 5}, 1, true);
  EXPECT_FALSE(own.take(5, false));
  ask(own);
  EXPECT_THROW(own.answered(4, DONE), std::logic_error) << "asked for 5, not 4";
  EXPECT_THROW(own.answered(9, DONE), std::out_of_range);
  EXPECT_THROW(own.take(9, false), std::out_of_range);
}
