// The figures of fanout compare (Karp-Flatt, the Amdahl fit, the best worker
// count, which config keys may differ) and the lost-time split of fanout
// report, on made-up runs whose answers are known in closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "report/compare.hpp"
#include "report/report.hpp"

using namespace fanout;
using namespace fanout::report;

namespace {

// Amdahl speedup at p workers for serial fraction f.
double amdahl(double f, double p) { return 1.0 / (f + (1.0 - f) / p); }

PhaseRecord phase(const char* name, double t_start, double t_end) {
  PhaseRecord p;
  std::strncpy(p.name, name, sizeof p.name - 1);
  p.t_start = t_start;
  p.t_end = t_end;
  return p;
}

TaskRecord task(std::uint64_t id, int rank, int thread, double t_start, double t_end) {
  TaskRecord t;
  t.id = id;
  t.rank = rank;
  t.thread = thread;
  t.t_start = t_start;
  t.t_end = t_end;
  t.attempt = 1;
  return t;
}

const char* CONFIG =
    "[job]\nkind = 'spin'\ntasks = 4\nduration = 0.5\n\n[output]\npath = 'a.h5'\n\n"
    "[run]\nprogress_interval = 30\nthreads_per_rank = 1\n\n[schedule]\nchunk = 'auto'\norder = 'given'\n"
    "policy = 'dynamic'\n";

// A run of 4 tasks of 1 s each, phases from 0 to `wall`; compute from 0.1 to wall - 0.2.
io::RunFile made_up_run(const std::string& path, long ranks, long threads, double wall) {
  io::RunFile run;
  run.path = path;
  run.job = "spin";
  run.status = "complete";
  run.config = CONFIG;
  run.scheduler = "dynamic";
  run.chunk = "auto";
  run.n_ranks = ranks;
  run.threads_per_rank = threads;
  double cs = 0.1, ce = wall - 0.2;
  run.phases = {phase("setup", 0, 0.05), phase("distribute", 0.05, cs), phase("compute", cs, ce),
                phase("collect", ce, wall - 0.1), phase("write", wall - 0.1, wall)};
  for (std::uint64_t i = 0; i < 4; ++i) run.tasks.push_back(task(i, 0, 0, cs, cs + 1.0));
  run.ranks.resize(static_cast<std::size_t>(ranks));
  for (long r = 0; r < ranks; ++r) {
    run.ranks[static_cast<std::size_t>(r)].rank = static_cast<int>(r);
    run.ranks[static_cast<std::size_t>(r)].threads = static_cast<int>(threads);
  }
  return run;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST(KarpFlatt, ClosedForms) {
  EXPECT_DOUBLE_EQ(karp_flatt(2.0, 2.0), 0.0);  // perfect speedup: no serial part
  EXPECT_DOUBLE_EQ(karp_flatt(1.0, 4.0), 1.0);  // no speedup: all serial
  EXPECT_NEAR(karp_flatt(3.0, 4.0), (1.0 / 3 - 0.25) / 0.75, 1e-15);
  // Amdahl data gives back its serial fraction at every p.
  for (double f : {0.01, 0.1, 0.5})
    for (double p : {2.0, 3.0, 8.0, 64.0}) EXPECT_NEAR(karp_flatt(amdahl(f, p), p), f, 1e-12) << f << " " << p;
}

TEST(AmdahlFit, RecoversTheSerialFractionOfExactData) {
  for (double f : {0.0, 0.02, 0.1, 0.3, 0.9}) {
    std::vector<std::pair<double, double>> points;
    for (double p : {1.0, 2.0, 4.0, 8.0}) points.emplace_back(p, amdahl(f, p));
    auto fit = amdahl_fit(points);
    ASSERT_TRUE(fit) << f;
    EXPECT_EQ(fit->points, 4u);
    EXPECT_NEAR(fit->intercept, f, 1e-12);
    EXPECT_NEAR(fit->slope, 1 - f, 1e-12);
    EXPECT_NEAR(fit->serial_fraction, f, 1e-12);
    EXPECT_FALSE(fit->clamped);
  }
}

TEST(AmdahlFit, SerialFractionDoesNotDependOnTheBaselineScale) {
  // A baseline at 2 workers assumed perfect scales every speedup by one factor; f stays.
  std::vector<std::pair<double, double>> exact, scaled;
  for (double p : {2.0, 4.0, 8.0}) {
    exact.emplace_back(p, amdahl(0.1, p));
    scaled.emplace_back(p, amdahl(0.1, p) * 2.0 / amdahl(0.1, 2.0));
  }
  auto a = amdahl_fit(exact), b = amdahl_fit(scaled);
  ASSERT_TRUE(a && b);
  EXPECT_NEAR(a->serial_fraction, 0.1, 1e-12);
  EXPECT_NEAR(b->serial_fraction, 0.1, 1e-12);
}

TEST(AmdahlFit, LeastSquaresOfNoisyData) {
  // y = 1/S at x = 1/p: 1, 0.6, 0.3, 0.26 at x = 1, 1/2, 1/4, 1/8; the normal equations by hand.
  std::vector<std::pair<double, double>> points{{1, 1.0}, {2, 1 / 0.6}, {4, 1 / 0.3}, {8, 1 / 0.26}};
  std::vector<double> x{1, 0.5, 0.25, 0.125}, y{1, 0.6, 0.3, 0.26};
  double mx = 0, my = 0;
  for (int i = 0; i < 4; ++i) mx += x[i] / 4, my += y[i] / 4;
  double sxx = 0, sxy = 0;
  for (int i = 0; i < 4; ++i) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
  double b = sxy / sxx, a = my - b * mx;
  auto fit = amdahl_fit(points);
  ASSERT_TRUE(fit);
  EXPECT_NEAR(fit->slope, b, 1e-12);
  EXPECT_NEAR(fit->intercept, a, 1e-12);
  EXPECT_NEAR(fit->serial_fraction, a / (a + b), 1e-12);
}

TEST(AmdahlFit, NeedsTwoWorkerCounts) {
  EXPECT_FALSE(amdahl_fit({}));
  EXPECT_FALSE(amdahl_fit({{2, 1.8}}));
  EXPECT_FALSE(amdahl_fit({{2, 1.8}, {2, 1.9}, {2, 1.7}}));
  EXPECT_TRUE(amdahl_fit({{2, 1.8}, {4, 3.0}}));
}

TEST(AmdahlFit, ClampsSuperlinearAndSlowingRuns) {
  auto superlinear = amdahl_fit({{1, 1.0}, {2, 2.5}, {4, 6.0}});
  ASSERT_TRUE(superlinear);
  EXPECT_TRUE(superlinear->clamped);
  EXPECT_EQ(superlinear->serial_fraction, 0.0);
  EXPECT_FALSE(superlinear->best_workers);
  auto slower = amdahl_fit({{1, 1.0}, {2, 0.8}, {4, 0.5}});
  ASSERT_TRUE(slower);
  EXPECT_TRUE(slower->clamped);
  EXPECT_EQ(slower->serial_fraction, 1.0);
  EXPECT_EQ(slower->best_workers, 1);
  auto much_slower = amdahl_fit({{2, 2.0}, {4, 0.3}});  // the line reaches 1/S = 0 before p = 1
  ASSERT_TRUE(much_slower);
  EXPECT_EQ(much_slower->serial_fraction, 1.0);
}

TEST(BestWorkers, LargestWorkerCountAtHalfEfficiency) {
  EXPECT_EQ(best_workers(0.1), 11);
  EXPECT_EQ(best_workers(0.5), 3);
  EXPECT_EQ(best_workers(0.25), 5);
  EXPECT_EQ(best_workers(1.0), 1);
  EXPECT_FALSE(best_workers(0.0));
  for (double f : {0.003, 0.01, 0.07, 0.2, 0.33, 0.7, 0.99}) {
    long p = *best_workers(f);
    double p_d = static_cast<double>(p);
    EXPECT_GE(amdahl(f, p_d) / p_d, 0.5 - 1e-12) << f;
    EXPECT_LT(amdahl(f, p_d + 1) / (p_d + 1), 0.5) << f;
  }
}

TEST(ConfigKeys, StudyKeysAndDifferences) {
  EXPECT_TRUE(study_key("schedule.policy"));
  EXPECT_TRUE(study_key("schedule.chunk"));
  EXPECT_TRUE(study_key("run.threads_per_rank"));
  EXPECT_TRUE(study_key("output.path"));
  EXPECT_TRUE(study_key("run.progress_interval"));
  EXPECT_TRUE(study_key("checkpoint.interval"));
  EXPECT_FALSE(study_key("run.retries"));
  EXPECT_FALSE(study_key("job.tasks"));
  EXPECT_FALSE(study_key("schedulex"));

  auto a = flatten_toml(CONFIG, "a");
  auto b =
      flatten_toml(replace(replace(CONFIG, "tasks = 4", "tasks = 5"), "policy = 'dynamic'", "policy = 'guided'"), "b");
  EXPECT_EQ(differing_keys(a, b), (std::vector<std::string>{"job.tasks", "schedule.policy"}));
  auto c = flatten_toml(std::string(CONFIG) + "\n[extra]\nnested = { x = [1, 2] }\n", "c");
  EXPECT_EQ(differing_keys(a, c), (std::vector<std::string>{"extra.nested.x"}));
  EXPECT_TRUE(differing_keys(a, a).empty());
  EXPECT_THROW(flatten_toml("[job\n", "bad"), IoError);
}

TEST(Compare, SpeedupFromTheFewestWorkersScaledByTheirCount) {
  std::vector<io::RunFile> runs{made_up_run("four.h5", 4, 1, 1.0), made_up_run("two.h5", 2, 1, 1.6),
                                made_up_run("eight.h5", 4, 2, 0.8)};
  Comparison c = compare(runs);
  ASSERT_EQ(c.runs.size(), 3u);
  EXPECT_EQ(c.runs[0].file, "two.h5");
  EXPECT_EQ(c.runs[1].file, "four.h5");
  EXPECT_EQ(c.runs[2].file, "eight.h5");
  EXPECT_EQ(c.baseline, 0u);
  EXPECT_DOUBLE_EQ(c.runs[0].speedup, 2.0);  // 2 workers x 1.6 s / 1.6 s
  EXPECT_DOUBLE_EQ(c.runs[1].speedup, 2 * 1.6 / 1.0);
  EXPECT_DOUBLE_EQ(c.runs[2].speedup, 2 * 1.6 / 0.8);
  EXPECT_DOUBLE_EQ(c.runs[2].efficiency, 4.0 / 8.0);
  ASSERT_TRUE(c.runs[0].karp_flatt);
  EXPECT_NEAR(*c.runs[0].karp_flatt, 0.0, 1e-15);
  EXPECT_NEAR(*c.runs[2].karp_flatt, karp_flatt(4.0, 8.0), 1e-15);
  EXPECT_EQ(c.varied, (std::vector<std::string>{"ranks"}));  // configs are equal here; threads come from attributes
  ASSERT_TRUE(c.fit);
  EXPECT_EQ(c.fit->points, 3u);
  EXPECT_FALSE(c.best_ranks);  // threads per rank differ: only a worker count
  std::string json = format_json(c);
  EXPECT_NE(json.find("\"baseline\": \"two.h5\""), std::string::npos) << json;
  EXPECT_NE(format_text(c).find("Amdahl fit"), std::string::npos);
}

TEST(Compare, BaselineIsTheFastestOfTheFewestWorkers) {
  Comparison c =
      compare({made_up_run("slow.h5", 1, 1, 2.0), made_up_run("two.h5", 2, 1, 1.0), made_up_run("fast.h5", 1, 1, 1.5)});
  ASSERT_EQ(c.runs.size(), 3u);
  EXPECT_EQ(c.runs[0].file, "slow.h5");  // rows: by workers, then as given
  EXPECT_EQ(c.runs[1].file, "fast.h5");
  EXPECT_EQ(c.baseline, 1u);
  EXPECT_DOUBLE_EQ(c.runs[0].speedup, 1.5 / 2.0);
  EXPECT_DOUBLE_EQ(c.runs[2].speedup, 1.5);
  EXPECT_FALSE(c.runs[0].karp_flatt);
}

TEST(Compare, RefusesOtherJobsAndOtherParameters) {
  io::RunFile a = made_up_run("a.h5", 1, 1, 1.0), b = made_up_run("b.h5", 2, 1, 0.6);
  b.job = "primes";
  EXPECT_THROW(compare({a, b}), ConfigError);
  b.job = "spin";
  b.config =
      replace(replace(CONFIG, "duration = 0.5", "duration = 0.25"), "progress_interval = 30", "progress_interval = 0");
  try {
    compare({a, b});
    FAIL() << "configs differing in job.duration were compared";
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("job.duration (0.5 in a.h5, 0.25 in b.h5)"), std::string::npos) << what;
    EXPECT_NE(what.find("run.progress_interval"), std::string::npos) << what;
  }
  b.config = replace(replace(CONFIG, "threads_per_rank = 1", "threads_per_rank = 2"), "path = 'a.h5'", "path = 'b.h5'");
  Comparison c = compare({a, b});
  EXPECT_EQ(c.varied, (std::vector<std::string>{"ranks", "run.threads_per_rank"}));
  EXPECT_THROW(compare({a}), ConfigError);
}

TEST(ReportLostTime, PartsAddUpAndAWorkerWithoutTasksIsAllTail) {
  // 2 ranks x 2 threads; compute 0.1 .. 1.8, wall 2.0. Rank 1 thread 1 runs nothing.
  io::RunFile run = made_up_run("lost.h5", 2, 2, 2.0);
  run.tasks = {task(0, 0, 0, 0.1, 1.0), task(1, 0, 0, 1.0, 1.8), task(2, 0, 1, 0.2, 1.5), task(3, 1, 0, 0.3, 0.9)};
  Summary s = summarize(run);
  const double workers = 4, cs = 0.1, ce = 1.8, task_wall = 0.9 + 0.8 + 1.3 + 0.6;
  double tail = (ce - 1.8) + (ce - 1.5) + (ce - 0.9) + (ce - cs);
  EXPECT_NEAR(s.lost.total, workers * 2.0 - task_wall, 1e-12);
  EXPECT_NEAR(s.lost.startup, workers * cs, 1e-12);
  EXPECT_NEAR(s.lost.idle_tail, tail, 1e-12);
  EXPECT_NEAR(s.lost.idle_other, 0.1 + 0.2, 1e-12);  // thread (0,1) started at 0.2, (1,0) at 0.3
  EXPECT_NEAR(s.lost.collect, workers * 0.1, 1e-12);
  EXPECT_NEAR(s.lost.write, workers * 0.1, 1e-12);
  EXPECT_NEAR(s.lost.startup + s.lost.idle_tail + s.lost.idle_other + s.lost.collect + s.lost.write, s.lost.total,
              1e-12);
  ASSERT_EQ(s.per_rank.size(), 2u);
  EXPECT_NEAR(s.per_rank[0].idle_tail, (ce - 1.8) + (ce - 1.5), 1e-12);
  EXPECT_NEAR(s.per_rank[1].idle_tail, (ce - 0.9) + (ce - cs), 1e-12);
  ASSERT_EQ(s.slowest.size(), 4u);
  EXPECT_EQ(s.slowest[0].id, 2u);  // 1.3 s
  EXPECT_EQ(s.slowest[1].id, 0u);  // 0.9 s
  EXPECT_EQ(s.slowest[3].id, 3u);  // 0.6 s
  EXPECT_EQ(format_csv(s).substr(0, format_csv(s).find('\n')),
            "rank,host,pid,threads,tasks,busy,idle,comm,cpu_user,cpu_sys,max_rss_mib,idle_tail");
}

TEST(ReportSessions, AResumedFileTakesTheWallOfEverySession) {
  // Session 0 (2 ranks) ran tasks 0-1 and ended with task 1 at 0.7; session 1 (1 rank x 1 thread, wall 2.0) ran 2-3.
  io::RunFile run = made_up_run("resumed.h5", 1, 1, 2.0);
  run.sessions = 2;
  run.tasks = {task(0, 0, 0, 0.1, 0.6), task(1, 1, 0, 0.2, 0.7), task(2, 0, 0, 0.1, 1.0), task(3, 0, 0, 1.0, 1.8)};
  for (auto i : {2, 3}) run.tasks[static_cast<std::size_t>(i)].session = 1;
  Summary s = summarize(run);
  ASSERT_EQ(s.sessions.size(), 2u);
  EXPECT_NEAR(s.sessions[0].wall, 0.7, 1e-12);
  EXPECT_EQ(s.sessions[0].workers, 2);
  EXPECT_NEAR(s.wall, 2.7, 1e-12);
  EXPECT_NEAR(s.last_session_wall, 2.0, 1e-12);
  EXPECT_NEAR(run_wall(run), 2.7, 1e-12);
  const double task_wall = 0.5 + 0.5 + 0.9 + 0.8, offered = 2 * 0.7 + 1 * 2.0;
  EXPECT_NEAR(s.efficiency, task_wall / offered, 1e-12);
  EXPECT_NEAR(s.lost.total, offered - task_wall, 1e-12);
  EXPECT_NEAR(s.lost.earlier, 2 * 0.7 - 1.0, 1e-12);
  EXPECT_NEAR(s.lost.idle_other, 1.7 - 1.7 - 0.0, 1e-12);  // session 1's compute 0.1 .. 1.8 is all tasks
  EXPECT_NEAR(s.lost.startup + s.lost.idle_tail + s.lost.idle_other + s.lost.collect + s.lost.write + s.lost.earlier,
              s.lost.total, 1e-12);
  // compare takes the same wall.
  io::RunFile other = made_up_run("b.h5", 2, 1, 1.5);
  Comparison c = compare({run, other});
  EXPECT_NEAR(c.runs[0].wall, 2.7, 1e-12);
}
