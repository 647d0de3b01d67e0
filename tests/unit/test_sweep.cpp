// Parameter sweeps ([params], [sweep]) and typed results ([job.results], the
// $FANOUT_RESULT file): the task order, which every rank computes on its own
// and must agree on, and every error message, asserted verbatim.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"
#include "core/job.hpp"
#include "core/result_file.hpp"
#include "core/sweep.hpp"

using fanout::Column;
using fanout::ColumnType;
using fanout::ConfigError;
using fanout::ParamSource;
using fanout::ParamType;
using fanout::ParamValue;
using fanout::Sweep;
using fanout::SweepMode;
using fanout::SweepParam;
using fanout::config::load_config;

namespace {

// A command job over [params]: lines 1-3, so the first key after a
// "[params]" header on line 4 is on line 5.
const std::string COMMAND = "[job]\nkind = \"command\"\ncommand = \"true\"\n";

fanout::config::LoadedConfig load(const std::string& text, const std::vector<std::string>& sets = {}) {
  return load_config(text, "test.toml", sets);
}

// The message of the ConfigError that loading `text` throws.
std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    load(text, sets);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return "";
}

// Every task's value of parameter `name`, as a command receives it.
std::vector<std::string> column_of(const Sweep& sweep, const std::string& name) {
  auto p = sweep.find(name);
  EXPECT_TRUE(p.has_value()) << name;
  std::vector<std::string> out;
  if (!p) return out;
  for (std::uint64_t t = 0; t < sweep.size(); ++t) out.push_back(fanout::param_text(sweep.value(t, *p)));
  return out;
}

// Task t's parameters as "a=1 b=x", in the order of params().
std::vector<std::string> tasks_of(const Sweep& sweep) {
  std::vector<std::string> out;
  for (std::uint64_t t = 0; t < sweep.size(); ++t) {
    std::string line;
    for (std::size_t p = 0; p < sweep.params().size(); ++p)
      line += (p ? " " : "") + sweep.params()[p].name + "=" + fanout::param_text(sweep.value(t, p));
    out.push_back(line);
  }
  return out;
}

SweepParam list(const std::string& name, std::vector<ParamValue> values) {
  SweepParam p;
  p.name = name;
  p.source = ParamSource::List;
  p.type = values.empty() || std::holds_alternative<std::int64_t>(values[0]) ? ParamType::Int
           : std::holds_alternative<double>(values[0])                       ? ParamType::Float
           : std::holds_alternative<bool>(values[0])                         ? ParamType::Bool
                                                                             : ParamType::Text;
  p.values = std::move(values);
  return p;
}

// A directory of its own for CSV files, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fanout-test-sweep-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  // Writes `text` to the file `name` in the directory; its absolute path.
  std::string write(const std::string& name, const std::string& text) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A config with a [sweep] file and no [params]; "file" on line 5.
std::string with_file(const std::string& path, const std::string& more = "") {
  return COMMAND + "[sweep]\nfile = \"" + path + "\"\n" + more;
}

}  // namespace

// ---------------------------------------------------------------- Sweep itself

TEST(SweepExpansion, ProductVariesTheLastAxisFastest) {
  Sweep sweep;
  SweepParam a = list("a", {std::int64_t{1}, std::int64_t{2}});
  a.axis = sweep.add_axis(2);
  sweep.add_param(a);
  SweepParam b = list("b", {std::string("x"), std::string("y"), std::string("z")});
  b.axis = sweep.add_axis(3);
  sweep.add_param(b);
  ASSERT_EQ(sweep.seal(SweepMode::Product, 1), 6u);
  EXPECT_EQ(sweep.size(), 6u);
  EXPECT_EQ(tasks_of(sweep),
            (std::vector<std::string>{"a=1 b=x", "a=1 b=y", "a=1 b=z", "a=2 b=x", "a=2 b=y", "a=2 b=z"}));
  EXPECT_EQ(sweep.describe(), "a (2) x b (3) = 6 tasks");
  EXPECT_EQ(sweep.axis_index(4, 0), 1u);
  EXPECT_EQ(sweep.axis_index(4, 1), 1u);
  EXPECT_EQ(sweep.params()[1].size, 3u);  // set by add_param from its axis
}

TEST(SweepExpansion, ZipTakesTheAxesTogether) {
  Sweep sweep;
  SweepParam a = list("a", {std::int64_t{1}, std::int64_t{2}, std::int64_t{3}});
  a.axis = sweep.add_axis(3);
  sweep.add_param(a);
  SweepParam b = list("b", {true, false, true});
  b.axis = sweep.add_axis(3);
  sweep.add_param(b);
  ASSERT_EQ(sweep.seal(SweepMode::Zip, 1), 3u);
  EXPECT_EQ(tasks_of(sweep), (std::vector<std::string>{"a=1 b=true", "a=2 b=false", "a=3 b=true"}));
  EXPECT_EQ(sweep.describe(), "a (3) zip b (3) = 3 tasks");
}

TEST(SweepExpansion, RepeatMakesAdjacentCopiesNumberedByRepeat) {
  Sweep sweep;
  SweepParam a = list("a", {std::int64_t{5}, std::int64_t{6}});
  a.axis = sweep.add_axis(2);
  sweep.add_param(a);
  ASSERT_EQ(sweep.seal(SweepMode::Product, 3), 6u);
  ASSERT_TRUE(sweep.find("repeat").has_value());
  const SweepParam& copy = sweep.params()[*sweep.find("repeat")];
  EXPECT_EQ(copy.source, ParamSource::Repeat);
  EXPECT_EQ(copy.type, ParamType::Int);
  EXPECT_EQ(tasks_of(sweep), (std::vector<std::string>{"a=5 repeat=0", "a=5 repeat=1", "a=5 repeat=2", "a=6 repeat=0",
                                                       "a=6 repeat=1", "a=6 repeat=2"}));
  EXPECT_EQ(sweep.describe(), "a (2) x repeat (3) = 6 tasks");
}

TEST(SweepExpansion, ZipWithRepeat) {
  Sweep sweep;
  SweepParam a = list("a", {std::int64_t{1}, std::int64_t{2}});
  a.axis = sweep.add_axis(2);
  sweep.add_param(a);
  SweepParam b = list("b", {std::int64_t{10}, std::int64_t{20}});
  b.axis = sweep.add_axis(2);
  sweep.add_param(b);
  ASSERT_EQ(sweep.seal(SweepMode::Zip, 2), 4u);
  EXPECT_EQ(tasks_of(sweep), (std::vector<std::string>{"a=1 b=10 repeat=0", "a=1 b=10 repeat=1", "a=2 b=20 repeat=0",
                                                       "a=2 b=20 repeat=1"}));
  EXPECT_EQ(sweep.describe(), "a (2) zip b (2) x repeat (2) = 4 tasks");
}

TEST(SweepExpansion, RepeatOneAddsNoParameter) {
  Sweep sweep;
  SweepParam a = list("a", {std::int64_t{1}});
  a.axis = sweep.add_axis(1);
  sweep.add_param(a);
  ASSERT_EQ(sweep.seal(SweepMode::Product, 1), 1u);
  EXPECT_FALSE(sweep.find("repeat").has_value());
  EXPECT_EQ(sweep.describe(), "a (1) = 1 task");
}

TEST(SweepExpansion, TaskCountIsCappedAtTenToTheTen) {
  auto range_sweep = [](std::uint64_t n, std::uint64_t m, std::uint64_t repeat) {
    Sweep sweep;
    for (auto [name, size] : {std::pair<const char*, std::uint64_t>{"a", n}, {"b", m}}) {
      SweepParam p;
      p.name = name;
      p.source = ParamSource::Range;
      p.stop = static_cast<std::int64_t>(size);
      p.axis = sweep.add_axis(size);
      sweep.add_param(p);
    }
    return sweep.seal(SweepMode::Product, repeat);
  };
  EXPECT_EQ(range_sweep(100'000, 100'000, 1), Sweep::MAX_TASKS);
  EXPECT_FALSE(range_sweep(100'000, 100'001, 1).has_value());
  EXPECT_FALSE(range_sweep(100'000, 100'000, 2).has_value());
  EXPECT_EQ(range_sweep(50'000, 100'000, 2), Sweep::MAX_TASKS);
  // Products that overflow 64 bits are caught before they wrap.
  EXPECT_FALSE(range_sweep(std::uint64_t{1} << 40, std::uint64_t{1} << 40, 1).has_value());
  EXPECT_FALSE(range_sweep(1, 1, Sweep::MAX_TASKS + 1).has_value());
}

TEST(SweepExpansion, LastTaskOfAHugeSweep) {
  Sweep sweep;
  SweepParam a;
  a.name = "a";
  a.source = ParamSource::Range;
  a.start = -5;
  a.step = 1;
  a.stop = 99'995;
  a.axis = sweep.add_axis(100'000);
  sweep.add_param(a);
  SweepParam b = a;
  b.name = "b";
  b.axis = sweep.add_axis(100'000);
  sweep.add_param(b);
  ASSERT_EQ(sweep.seal(SweepMode::Product, 1), Sweep::MAX_TASKS);
  EXPECT_EQ(std::get<std::int64_t>(sweep.value(Sweep::MAX_TASKS - 1, 0)), 99'994);
  EXPECT_EQ(std::get<std::int64_t>(sweep.value(Sweep::MAX_TASKS - 1, 1)), 99'994);
  EXPECT_EQ(std::get<std::int64_t>(sweep.value(100'000, 0)), -4);
  EXPECT_EQ(std::get<std::int64_t>(sweep.value(100'000, 1)), -5);
}

TEST(SweepExpansion, ParamText) {
  EXPECT_EQ(fanout::param_text(ParamValue{true}), "true");
  EXPECT_EQ(fanout::param_text(ParamValue{false}), "false");
  EXPECT_EQ(fanout::param_text(ParamValue{std::int64_t{-20}}), "-20");
  EXPECT_EQ(fanout::param_text(ParamValue{0.1}), "0.1");
  EXPECT_EQ(fanout::param_text(ParamValue{1e-300}), "1e-300");
  EXPECT_EQ(fanout::param_text(ParamValue{2.0}), "2");
  EXPECT_EQ(fanout::param_text(ParamValue{std::string("a b")}), "a b");
  EXPECT_STREQ(fanout::param_type_name(ParamType::Float), "float64");
  EXPECT_STREQ(fanout::param_source_name(ParamSource::Log), "log");
}

TEST(SweepExpansion, AddParamNeedsItsAxis) {
  Sweep sweep;
  EXPECT_THROW(sweep.add_param(list("a", {std::int64_t{1}})), std::logic_error);
}

// ------------------------------------------------------- [params] and [sweep]

TEST(SweepConfig, AxesInWrittenOrderLastFastest) {
  // toml++ sorts keys by name; the sweep must follow the file instead.
  auto loaded = load(COMMAND + "[params]\nz = [1, 2]\na = [\"p\", \"q\", \"r\"]\n");
  ASSERT_TRUE(loaded.sweep);
  const Sweep& sweep = *loaded.sweep;
  EXPECT_EQ(loaded.job->task_count(), 6u);
  EXPECT_EQ(tasks_of(sweep),
            (std::vector<std::string>{"z=1 a=p", "z=1 a=q", "z=1 a=r", "z=2 a=p", "z=2 a=q", "z=2 a=r"}));
  EXPECT_EQ(sweep.describe(), "z (2) x a (3) = 6 tasks");
  EXPECT_NE(loaded.run.resolved_toml.find("axes = [ 'z', 'a' ]"), std::string::npos) << loaded.run.resolved_toml;
}

TEST(SweepConfig, SweepAxesChooseTheOrder) {
  auto loaded = load(COMMAND + "[params]\nz = [1, 2]\na = [3, 4]\nm = [5]\n[sweep]\naxes = [\"a\"]\n");
  EXPECT_EQ(loaded.sweep->describe(), "a (2) x z (2) x m (1) = 4 tasks");
  EXPECT_EQ(tasks_of(*loaded.sweep),
            (std::vector<std::string>{"a=3 z=1 m=5", "a=3 z=2 m=5", "a=4 z=1 m=5", "a=4 z=2 m=5"}));
}

TEST(SweepConfig, SetAddsAnAxisAfterTheWrittenOnes) {
  auto loaded = load(COMMAND + "[params]\nz = [1, 2]\n", {"params.b=[7, 8]"});
  EXPECT_EQ(loaded.sweep->describe(), "z (2) x b (2) = 4 tasks");
  EXPECT_EQ(column_of(*loaded.sweep, "b"), (std::vector<std::string>{"7", "8", "7", "8"}));
}

TEST(SweepConfig, ListTypes) {
  auto loaded = load(COMMAND + "[params]\ni = [1, -2]\nf = [0.5]\nm = [1, 2.5]\nb = [true]\nt = [\"a b\", \"xyz\"]\n");
  const Sweep& sweep = *loaded.sweep;
  auto type_of = [&](const char* name) { return sweep.params()[*sweep.find(name)].type; };
  EXPECT_EQ(type_of("i"), ParamType::Int);
  EXPECT_EQ(type_of("f"), ParamType::Float);
  EXPECT_EQ(type_of("m"), ParamType::Float);  // whole numbers among floats become floats
  EXPECT_EQ(type_of("b"), ParamType::Bool);
  EXPECT_EQ(type_of("t"), ParamType::Text);
  EXPECT_EQ(sweep.params()[*sweep.find("t")].text_bytes, 3u);
  EXPECT_EQ(std::get<double>(sweep.value(0, *sweep.find("m"))), 1.0);
  EXPECT_EQ(std::get<double>(sweep.value(2, *sweep.find("m"))), 2.5);
  EXPECT_EQ(std::get<std::string>(sweep.value(0, *sweep.find("t"))), "a b");
  EXPECT_EQ(std::get<bool>(sweep.value(0, *sweep.find("b"))), true);
  EXPECT_EQ(sweep.params()[*sweep.find("m")].definition, "[1, 2.5]");
}

TEST(SweepConfig, RangeExcludesItsEnd) {
  auto loaded = load(COMMAND + "[params]\nn = { start = 0, stop = 10, step = 5 }\nk = { start = 1, stop = 4 }\n");
  EXPECT_EQ(column_of(*loaded.sweep, "n"), (std::vector<std::string>{"0", "0", "0", "5", "5", "5"}));
  EXPECT_EQ(column_of(*loaded.sweep, "k"), (std::vector<std::string>{"1", "2", "3", "1", "2", "3"}));
  EXPECT_EQ(loaded.sweep->params()[0].definition, "{ start = 0, stop = 10, step = 5 }");
  EXPECT_EQ(loaded.sweep->params()[1].definition, "{ start = 1, stop = 4, step = 1 }");
}

TEST(SweepConfig, RangeWithANegativeStep) {
  auto loaded =
      load(COMMAND + "[params]\nn = { start = 10, stop = 0, step = -3 }\nm = { start = 2, stop = -1, step = -1 }\n");
  EXPECT_EQ(loaded.sweep->axes(), (std::vector<std::uint64_t>{4, 3}));
  std::vector<std::string> n = column_of(*loaded.sweep, "n");
  std::vector<std::string> m = column_of(*loaded.sweep, "m");
  EXPECT_EQ(n, (std::vector<std::string>{"10", "10", "10", "7", "7", "7", "4", "4", "4", "1", "1", "1"}));
  EXPECT_EQ(m, (std::vector<std::string>{"2", "1", "0", "2", "1", "0", "2", "1", "0", "2", "1", "0"}));
}

TEST(SweepConfig, RangeNearTheEndsOfInt64) {
  auto loaded = load(COMMAND +
                     "[params]\nn = { start = 9223372036854775800, stop = 9223372036854775807, step = 3 }\n"
                     "m = { start = -9223372036854775807, stop = -9223372036854775808, step = -1 }\n");
  EXPECT_EQ(column_of(*loaded.sweep, "n"),
            (std::vector<std::string>{"9223372036854775800", "9223372036854775803", "9223372036854775806"}));
  EXPECT_EQ(column_of(*loaded.sweep, "m"), (std::vector<std::string>(3, "-9223372036854775807")));
}

// A range over the whole of int64: value_at works in uint64, which wraps.
TEST(SweepConfig, RangeOverTheWholeInt64) {
  auto loaded = load(COMMAND +
                     "[params]\nn = { start = -9223372036854775808, stop = 9223372036854775807, "
                     "step = 4611686018427387904 }\n");
  EXPECT_EQ(column_of(*loaded.sweep, "n"),
            (std::vector<std::string>{"-9223372036854775808", "-4611686018427387904", "0", "4611686018427387904"}));
}

// (1 - f) from + f to: never to - from, which would overflow here.
TEST(SweepConfig, LinearOverTheWholeDoubleRangeStaysFinite) {
  auto loaded = load(COMMAND + "[params]\nt = { from = -1e308, to = 1e308, num = 3 }\n");
  EXPECT_EQ(column_of(*loaded.sweep, "t"), (std::vector<std::string>{"-1e+308", "0", "1e+308"}));
}

TEST(SweepConfig, LinearIncludesBothEndsExactly) {
  auto loaded = load(COMMAND + "[params]\nt = { from = 0.1, to = 0.7, num = 7 }\n");
  const Sweep& sweep = *loaded.sweep;
  EXPECT_EQ(sweep.params()[0].source, ParamSource::Linear);
  EXPECT_EQ(sweep.params()[0].type, ParamType::Float);
  ASSERT_EQ(sweep.size(), 7u);
  EXPECT_EQ(std::get<double>(sweep.value(0, 0)), 0.1);
  EXPECT_EQ(std::get<double>(sweep.value(6, 0)), 0.7);
  for (std::uint64_t t = 0; t < 7; ++t)
    EXPECT_NEAR(std::get<double>(sweep.value(t, 0)), 0.1 + 0.1 * static_cast<double>(t), 1e-15) << t;
  EXPECT_EQ(sweep.params()[0].definition, "{ from = 0.1, to = 0.7, num = 7, scale = \"linear\" }");
}

TEST(SweepConfig, LinearDownwardsAndOfOne) {
  auto loaded = load(COMMAND + "[params]\nt = { from = 1, to = -1, num = 5 }\nu = { from = 3.5, to = 9, num = 1 }\n");
  EXPECT_EQ(column_of(*loaded.sweep, "t"), (std::vector<std::string>{"1", "0.5", "0", "-0.5", "-1"}));
  EXPECT_EQ(column_of(*loaded.sweep, "u"), (std::vector<std::string>(5, "3.5")));
}

TEST(SweepConfig, LogIncludesBothEndsExactly) {
  auto loaded = load(COMMAND + "[params]\nt = { from = 1e-3, to = 1e3, num = 7, scale = \"log\" }\n");
  const Sweep& sweep = *loaded.sweep;
  EXPECT_EQ(sweep.params()[0].source, ParamSource::Log);
  ASSERT_EQ(sweep.size(), 7u);
  EXPECT_EQ(std::get<double>(sweep.value(0, 0)), 1e-3);
  EXPECT_EQ(std::get<double>(sweep.value(6, 0)), 1e3);
  for (std::uint64_t t = 0; t < 7; ++t) {
    double expected = std::pow(10.0, static_cast<double>(t) - 3);
    EXPECT_NEAR(std::get<double>(sweep.value(t, 0)) / expected, 1.0, 1e-14) << t;
  }
  EXPECT_EQ(sweep.params()[0].definition, "{ from = 0.001, to = 1000, num = 7, scale = \"log\" }");
}

TEST(SweepConfig, ZipMode) {
  auto loaded = load(COMMAND + "[params]\nx = [1, 2, 3]\ny = [\"a\", \"b\", \"c\"]\n[sweep]\nmode = \"zip\"\n");
  EXPECT_EQ(tasks_of(*loaded.sweep), (std::vector<std::string>{"x=1 y=a", "x=2 y=b", "x=3 y=c"}));
  EXPECT_EQ(loaded.sweep->mode(), SweepMode::Zip);
}

TEST(SweepConfig, RepeatParameter) {
  auto loaded = load(COMMAND + "[params]\nx = [1, 2]\n[sweep]\nrepeat = 2\n");
  EXPECT_EQ(loaded.job->task_count(), 4u);
  EXPECT_EQ(loaded.sweep->repeat(), 2u);
  EXPECT_EQ(tasks_of(*loaded.sweep),
            (std::vector<std::string>{"x=1 repeat=0", "x=1 repeat=1", "x=2 repeat=0", "x=2 repeat=1"}));
}

TEST(SweepConfig, RepeatCanBeUsedInTheCommand) {
  auto loaded =
      load("[job]\nkind = \"command\"\ncommand = \"echo {x} {repeat}\"\n[params]\nx = [1]\n[sweep]\nrepeat = 2\n");
  EXPECT_EQ(loaded.job->task_count(), 2u);
}

TEST(SweepConfig, FileTableIsTheOutermostAxis) {
  TempDir dir;
  std::string csv = dir.write("table.csv", "n,label,f,ok\r\n1,\"a, b\",0.5,true\r\n2,\"say \"\"hi\"\"\",1,false\r\n");
  auto loaded = load(COMMAND + "[params]\nx = [10, 20, 30]\n[sweep]\nfile = \"" + csv + "\"\n");
  const Sweep& sweep = *loaded.sweep;
  EXPECT_EQ(sweep.size(), 6u);
  EXPECT_EQ(sweep.file, csv);
  EXPECT_EQ(sweep.describe(), "(n, label, f, ok) (2) x x (3) = 6 tasks");
  EXPECT_EQ(tasks_of(sweep), (std::vector<std::string>{
                                 "n=1 label=a, b f=0.5 ok=true x=10", "n=1 label=a, b f=0.5 ok=true x=20",
                                 "n=1 label=a, b f=0.5 ok=true x=30", "n=2 label=say \"hi\" f=1 ok=false x=10",
                                 "n=2 label=say \"hi\" f=1 ok=false x=20", "n=2 label=say \"hi\" f=1 ok=false x=30"}));
  auto type_of = [&](const char* name) { return sweep.params()[*sweep.find(name)].type; };
  EXPECT_EQ(type_of("n"), ParamType::Int);
  EXPECT_EQ(type_of("label"), ParamType::Text);
  EXPECT_EQ(type_of("f"), ParamType::Float);
  EXPECT_EQ(type_of("ok"), ParamType::Bool);
  EXPECT_EQ(sweep.params()[*sweep.find("label")].text_bytes, 8u);
  EXPECT_EQ(sweep.params()[0].source, ParamSource::File);
}

TEST(SweepConfig, FileAloneWithZipAndRepeat) {
  TempDir dir;
  std::string csv = dir.write("t.csv", "\xEF\xBB\xBF a , b\n1,x\n\n2,y\n");  // BOM, spaces around names, a blank line
  auto loaded = load(with_file(csv, "repeat = 2\n"));
  EXPECT_EQ(tasks_of(*loaded.sweep),
            (std::vector<std::string>{"a=1 b=x repeat=0", "a=1 b=x repeat=1", "a=2 b=y repeat=0", "a=2 b=y repeat=1"}));
  auto zipped = load(COMMAND + "[params]\nx = [5, 6]\n[sweep]\nmode = \"zip\"\nfile = \"" + csv + "\"\n");
  EXPECT_EQ(tasks_of(*zipped.sweep), (std::vector<std::string>{"a=1 b=x x=5", "a=2 b=y x=6"}));
}

TEST(SweepConfig, CommandTemplateSlots) {
  // {{ }} and ${...} are literal; a template may use any subset of the parameters.
  auto loaded = load(
      "[job]\nkind = \"command\"\ncommand = \"echo {x} ${HOME} {{x}} {not a slot}\"\n[params]\nx = [1]\ny = [2, 3]\n");
  EXPECT_EQ(loaded.job->task_count(), 2u);
}

// Other ranks parse rank 0's resolved text: the same tasks in the same order.
TEST(SweepConfig, OrderSurvivesTheResolvedConfig) {
  TempDir dir;
  std::string csv = dir.write("t.csv", "w,name\n1,one\n2,two\n");
  std::string text = COMMAND +
                     "[params]\nzeta = [0.5, 1.5]\nalpha = { start = 3, stop = -3, step = -2 }\n"
                     "mid = { from = 1, to = 100, num = 3, scale = \"log\" }\nbeta = [true, false]\n"
                     "lin = { from = 0, to = 1, num = 3 }\n[sweep]\nrepeat = 2\nfile = \"" +
                     csv + "\"\n";
  auto first = load(text, {"params.extra=[\"p\", \"q\"]"});
  auto second = load_config(first.run.resolved_toml, "resolved");
  auto third = load_config(second.run.resolved_toml, "resolved");
  ASSERT_TRUE(first.sweep && second.sweep);
  EXPECT_EQ(first.sweep->describe(),
            "(w, name) (2) x zeta (2) x alpha (3) x mid (3) x beta (2) x lin (3) x extra (2) x repeat (2) = 864 tasks");
  EXPECT_EQ(second.sweep->describe(), first.sweep->describe());
  EXPECT_EQ(second.run.resolved_toml, first.run.resolved_toml);
  EXPECT_EQ(third.run.resolved_toml, first.run.resolved_toml);
  ASSERT_EQ(second.sweep->size(), first.sweep->size());
  ASSERT_EQ(second.sweep->params().size(), first.sweep->params().size());
  for (std::size_t p = 0; p < first.sweep->params().size(); ++p) {
    EXPECT_EQ(second.sweep->params()[p].name, first.sweep->params()[p].name);
    EXPECT_EQ(second.sweep->params()[p].type, first.sweep->params()[p].type);
    EXPECT_EQ(second.sweep->params()[p].definition, first.sweep->params()[p].definition);
  }
  for (std::uint64_t t = 0; t < first.sweep->size(); ++t)
    for (std::size_t p = 0; p < first.sweep->params().size(); ++p)
      ASSERT_EQ(second.sweep->value(t, p), first.sweep->value(t, p)) << "task " << t << " param " << p;
}

TEST(SweepConfig, ZipOrderSurvivesTheResolvedConfig) {
  auto first = load(COMMAND + "[params]\nb = [1, 2, 3]\na = [0.25, 0.5, 0.75]\n[sweep]\nmode = \"zip\"\n");
  auto second = load_config(first.run.resolved_toml, "resolved");
  EXPECT_EQ(tasks_of(*second.sweep), tasks_of(*first.sweep));
  EXPECT_EQ(tasks_of(*first.sweep), (std::vector<std::string>{"b=1 a=0.25", "b=2 a=0.5", "b=3 a=0.75"}));
}

// --------------------------------------------------------------------- errors

TEST(SweepErrors, EmptyList) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = []\n"),
            "test.toml:5: params.x: expected a non-empty list of values, found []");
}

TEST(SweepErrors, MixedTypesInAList) {
  EXPECT_EQ(
      error_of(COMMAND + "[params]\nx = [1, \"a\"]\n"),
      "test.toml:5: params.x: expected values of one type (numbers, strings or booleans), found a mix: [1, \"a\"]");
  EXPECT_EQ(
      error_of(COMMAND + "[params]\nx = [true, 0.5]\n"),
      "test.toml:5: params.x: expected values of one type (numbers, strings or booleans), found a mix: [true, 0.5]");
  EXPECT_EQ(
      error_of(COMMAND + "[params]\nx = [1, [2]]\n"),
      "test.toml:5: params.x: expected numbers, whole numbers, strings or booleans in the list, found [2] (an array)");
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = [1, { a = 2 }]\n"),
            "test.toml:5: params.x: expected numbers, whole numbers, strings or booleans in the list, found { a = 2 } "
            "(a table)");
}

TEST(SweepErrors, BadValuesInAList) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = [1.0, nan]\n"),
            "test.toml:5: params.x[1]: expected a finite number, found nan");
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = [\"a\", \"b\\u0000c\"]\n"),
            "test.toml:5: params.x[1]: a text parameter cannot hold a NUL character");
}

TEST(SweepErrors, NotAnAxis) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = 3\n"),
            "test.toml:5: params.x: expected a list [a, b, ...], { start, stop, step } or { from, to, num }, found 3 "
            "(an integer)");
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = { a = 1 }\n"),
            "test.toml:5: params.x: expected { start, stop, step } (whole numbers) or { from, to, num } (evenly "
            "spaced), found { a = 1 }");
  EXPECT_EQ(error_of("params = 3\n" + COMMAND), "test.toml:1: params: expected a table [params], found 3 (an integer)");
  EXPECT_EQ(error_of(COMMAND + "[params]\n"),
            "test.toml:4: params: no axes: give [params] axes (x = [1, 2, 3]) or a [sweep] file of parameters");
  EXPECT_EQ(error_of(COMMAND + "[sweep]\nrepeat = 2\n"),
            "test.toml:4: sweep: no axes: give [params] axes (x = [1, 2, 3]) or a [sweep] file of parameters");
}

TEST(SweepErrors, RangeStepZero) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nn = { start = 0, stop = 10, step = 0 }\n"),
            "test.toml:5: params.n.step: expected a whole number other than 0, found 0");
}

TEST(SweepErrors, RangeStepOfTheWrongSign) {
  EXPECT_EQ(
      error_of(COMMAND + "[params]\nn = { start = 0, stop = 10, step = -1 }\n"),
      "test.toml:5: params.n.step: step -1 goes away from stop: from 0 the values would never reach 10; use step 1");
  EXPECT_EQ(error_of(COMMAND + "[params]\nn = { start = 10, stop = 0 }\n"),
            "test.toml:5: params.n.step: step 1 (the default) goes away from stop: from 10 the values would never "
            "reach 0; use step -1");
}

TEST(SweepErrors, RangeOtherMistakes) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nn = { start = 5, stop = 5 }\n"),
            "test.toml:5: params.n: the range is empty: start = stop = 5 (stop is excluded)");
  EXPECT_EQ(error_of(COMMAND + "[params]\nn = { stop = 5 }\n"),
            "test.toml:5: params.n: missing start; expected { start = A, stop = B, step = S } (whole numbers)");
  EXPECT_EQ(error_of(COMMAND + "[params]\nn = { start = 0.5, stop = 5 }\n"),
            "test.toml:5: params.n.start: expected a whole number, found 0.5 (a float)");
  EXPECT_EQ(error_of(COMMAND + "[params]\nn = { start = 0, stop = 5, num = 3 }\n"),
            "test.toml:5: params.n.num: unknown key; expected one of: start, stop, step");
}

TEST(SweepErrors, NumBelowOne) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nt = { from = 0, to = 1, num = 0 }\n"),
            "test.toml:5: params.t.num: expected a whole number >= 1, found 0");
  EXPECT_EQ(error_of(COMMAND + "[params]\nt = { from = 0, to = 1, num = 2.5 }\n"),
            "test.toml:5: params.t.num: expected a whole number >= 1, found 2.5 (a float)");
}

TEST(SweepErrors, SpacedOtherMistakes) {
  EXPECT_EQ(
      error_of(COMMAND + "[params]\nt = { from = 0, to = 1 }\n"),
      "test.toml:5: params.t: missing num; expected { from = A, to = B, num = N } (N values, both ends included)");
  EXPECT_EQ(error_of(COMMAND + "[params]\nt = { to = 1, num = 3 }\n"),
            "test.toml:5: params.t: missing from; expected { from = A, to = B, num = N }");
  EXPECT_EQ(error_of(COMMAND + "[params]\nt = { from = \"a\", to = 1, num = 3 }\n"),
            "test.toml:5: params.t.from: expected a finite number, found \"a\" (a string)");
  EXPECT_EQ(error_of(COMMAND + "[params]\nt = { from = 0, to = inf, num = 3 }\n"),
            "test.toml:5: params.t.to: expected a finite number, found inf (a float)");
  EXPECT_EQ(error_of(COMMAND + "[params]\nt = { from = 1, to = 2, num = 3, scale = \"ln\" }\n"),
            "test.toml:5: params.t.scale: expected one of \"linear\", \"log\", found \"ln\" (a string)");
}

TEST(SweepErrors, LogScaleNeedsPositiveEnds) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nt = { from = 0, to = 1, num = 3, scale = \"log\" }\n"),
            "test.toml:5: params.t: a log scale needs from and to above 0, found from = 0, to = 1");
  EXPECT_EQ(error_of(COMMAND + "[params]\nt = { from = 1, to = -1, num = 3, scale = \"log\" }\n"),
            "test.toml:5: params.t: a log scale needs from and to above 0, found from = 1, to = -1");
}

TEST(SweepErrors, ZipAxesOfDifferentLengths) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = [1, 2, 3]\ny = [1, 2]\n[sweep]\nmode = \"zip\"\n"),
            "test.toml:6: params.y: mode \"zip\" takes the axes together, so they must be of one length: params.x has "
            "3 values, params.y has 2");
}

TEST(SweepErrors, ZipFileAndAxisOfDifferentLengths) {
  TempDir dir;
  std::string csv = dir.write("t.csv", "a\n1\n2\n");
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = [5, 6, 7]\n[sweep]\nmode = \"zip\"\nfile = \"" + csv + "\"\n"),
            "test.toml:5: params.x: mode \"zip\" takes the axes together, so they must be of one length: sweep.file "
            "has 2 values, params.x has 3");
}

TEST(SweepErrors, NameNotAnIdentifier) {
  EXPECT_EQ(error_of(COMMAND + "[params]\n\"a-b\" = [1]\n"),
            "test.toml:5: params.a-b: a parameter's name must be an identifier (a letter or _, then letters, digits or "
            "_), as it becomes {name} in a command and FANOUT_PARAM_<name> in its environment");
  EXPECT_EQ(error_of(COMMAND + "[params]\n1x = [1]\n"),
            "test.toml:5: params.1x: a parameter's name must be an identifier (a letter or _, then letters, digits or "
            "_), as it becomes {name} in a command and FANOUT_PARAM_<name> in its environment");
}

TEST(SweepErrors, NameRepeatIsReserved) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nrepeat = [1, 2]\n"),
            "test.toml:5: params.repeat: \"repeat\" is the name of the copy number that [sweep] repeat adds; name the "
            "parameter otherwise");
}

TEST(SweepErrors, SweepKeys) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = [1]\n[sweep]\nmode = \"cross\"\n"),
            "test.toml:7: sweep.mode: expected one of \"product\", \"zip\", found \"cross\"");
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = [1]\n[sweep]\nrepeat = 0\n"),
            "test.toml:7: sweep.repeat: expected a whole number from 1 to 10000000000, found 0");
  EXPECT_EQ(error_of(COMMAND + "[params]\nx = [1]\n[sweep]\naxes = [\"y\"]\n"),
            "test.toml:7: sweep.axes: lists \"y\", which is not a key of [params]");
  EXPECT_EQ(
      error_of(COMMAND + "[params]\nx = [1]\n[sweep]\nfiles = \"t.csv\"\n"),
      "test.toml:7: sweep.files: unknown key; expected one of: mode, repeat, axes, file (did you mean \"file\"?)");
}

TEST(SweepErrors, CsvUnreadable) {
  TempDir dir;
  EXPECT_EQ(error_of(with_file(dir.path() + "/missing.csv")),
            "test.toml:5: sweep.file: cannot read " + dir.path() + "/missing.csv: No such file or directory");
  EXPECT_EQ(error_of(with_file(dir.path())), "test.toml:5: sweep.file: cannot read " + dir.path() + ": Is a directory");
}

namespace {

// "test.toml:5: sweep.file: PATH:LINE: " + message: the config's line, then the table's.
std::string csv_error(const std::string& path, int line, const std::string& message) {
  return "test.toml:5: sweep.file: " + path + ":" + std::to_string(line) + ": " + message;
}

}  // namespace

TEST(SweepErrors, CsvRagged) {
  TempDir dir;
  std::string csv = dir.write("t.csv", "a,b\n1,2\n3\n");
  EXPECT_EQ(error_of(with_file(csv)),
            csv_error(csv, 3, "1 field, but the header has 2 (every row needs one field per column)"));
  csv = dir.write("u.csv", "a,b\n1,2,3\n");
  EXPECT_EQ(error_of(with_file(csv)),
            csv_error(csv, 2, "3 fields, but the header has 2 (every row needs one field per column)"));
  // A quoted field over two lines: the row after it is on line 4.
  csv = dir.write("v.csv", "a,b\n\"x\ny\",2\n1\n");
  EXPECT_EQ(error_of(with_file(csv)),
            csv_error(csv, 4, "1 field, but the header has 2 (every row needs one field per column)"));
}

TEST(SweepErrors, CsvWithoutAHeader) {
  TempDir dir;
  std::string csv = dir.write("t.csv", "1,2\n3,4\n");
  EXPECT_EQ(error_of(with_file(csv)),
            csv_error(csv, 1,
                      "the first row must name the columns (identifiers such as x or n_steps), found \"1\" in "
                      "column 1; is the header row missing?"));
}

TEST(SweepErrors, CsvDuplicateColumns) {
  TempDir dir;
  std::string csv = dir.write("t.csv", "a,b,a\n1,2,3\n");
  EXPECT_EQ(error_of(with_file(csv)), csv_error(csv, 1, "column \"a\" appears twice in the header"));
}

TEST(SweepErrors, CsvEmpty) {
  TempDir dir;
  const std::string empty = "empty; expected a header row naming the columns, then one row per task";
  std::string csv = dir.write("t.csv", "");
  EXPECT_EQ(error_of(with_file(csv)), csv_error(csv, 1, empty));
  csv = dir.write("u.csv", "\n\n");
  EXPECT_EQ(error_of(with_file(csv)), csv_error(csv, 1, empty));
  csv = dir.write("v.csv", "a,b\n");
  EXPECT_EQ(error_of(with_file(csv)),
            csv_error(csv, 1, "a header but no rows; expected one row per task after the header"));
}

TEST(SweepErrors, CsvQuotingAndBytes) {
  TempDir dir;
  std::string csv = dir.write("t.csv", "a\n\"open\n");
  EXPECT_EQ(error_of(with_file(csv)), csv_error(csv, 2, "a quoted field is not closed (a \" is missing)"));
  csv = dir.write("u.csv", "a\n\"x\"y\n");
  EXPECT_EQ(error_of(with_file(csv)),
            csv_error(csv, 2, "text after a quoted field's closing \" (a field is either quoted whole or not at all)"));
  csv = dir.write("v.csv", "a\nx\"y\n");
  EXPECT_EQ(error_of(with_file(csv)),
            csv_error(csv, 2, "a \" inside an unquoted field (quote the whole field and double the \")"));
  csv = dir.write("w.csv", std::string("a\nx\0y\n", 6));
  EXPECT_EQ(error_of(with_file(csv)), csv_error(csv, 2, "a NUL byte: not a text file"));
  csv = dir.write("x.csv", "repeat\n1\n");
  EXPECT_EQ(error_of(with_file(csv)),
            csv_error(csv, 1, "column \"repeat\": the name of the copy number that [sweep] repeat adds"));
}

// "+-5" is no number: the column is text.
TEST(SweepConfig, CsvPlusMinusIsText) {
  TempDir dir;
  auto loaded = load(with_file(dir.write("t.csv", "a\n+-5\n")));
  EXPECT_EQ(loaded.sweep->params()[0].type, ParamType::Text);
}

TEST(SweepErrors, CsvColumnClashesWithAParameter) {
  TempDir dir;
  std::string csv = dir.write("t.csv", "x\n1\n");
  EXPECT_EQ(
      error_of(COMMAND + "[params]\nx = [5, 6]\n[sweep]\nfile = \"" + csv + "\"\n"),
      "test.toml:5: params.x: \"x\" is also a column of the sweep's file " + csv + "; a parameter has one source");
}

TEST(SweepErrors, MoreThanTenToTheTenTasks) {
  EXPECT_EQ(error_of(COMMAND + "[params]\na = { start = 0, stop = 100000 }\nb = { start = 0, stop = 100000 }\n"
                               "c = [1, 2]\n"),
            "test.toml:4: params: the sweep has more than 10^10 tasks (params.a (100000) x params.b (100000) x "
            "params.c (2)); fanout runs at most 10^10");
  EXPECT_EQ(error_of(COMMAND + "[params]\na = { start = 0, stop = 100000 }\nb = { start = 0, stop = 100000 }\n"
                               "[sweep]\nrepeat = 2\n"),
            "test.toml:4: params: the sweep has more than 10^10 tasks (params.a (100000) x params.b (100000) x "
            "repeat (2)); fanout runs at most 10^10");
  // Exactly 10^10 is allowed.
  EXPECT_EQ(load(COMMAND + "[params]\na = { start = 0, stop = 100000 }\nb = { start = 0, stop = 100000 }\n")
                .job->task_count(),
            Sweep::MAX_TASKS);
}

TEST(SweepErrors, ParamsForAJobWithItsOwnTasks) {
  EXPECT_EQ(error_of("[job]\nkind = \"primes\"\nnumbers = [2, 3]\n[params]\nx = [1]\n"),
            "test.toml:4: params: job \"primes\" has its own task list, so it takes no [params] or [sweep]; a sweep "
            "drives the jobs that take their tasks from one (command with a command template, or a C++ job of your own "
            "that reads task.param())");
  EXPECT_EQ(error_of("[job]\nkind = \"primes\"\nnumbers = [2, 3]\n[sweep]\nrepeat = 2\n"),
            "test.toml:4: sweep: no axes: give [params] axes (x = [1, 2, 3]) or a [sweep] file of parameters");
}

TEST(SweepErrors, UnknownNameInTheCommandTemplate) {
  EXPECT_EQ(
      error_of("[job]\nkind = \"command\"\ncommand = \"run --x {x} --y {y}\"\n[params]\nx = [1]\nz = [2]\n"),
      "test.toml:3: job.command: {y} names no parameter; the parameters are x, z (write {{ and }} for literal braces)");
}

TEST(SweepErrors, CommandWithoutParams) {
  EXPECT_EQ(error_of("[job]\nkind = \"command\"\ncommand = \"echo hi\"\n"),
            "test.toml:3: job.command: a command template runs once per combination of [params], and the config has no "
            "[params] (for example [params] x = [1, 2, 3]); for fixed command lines use commands");
}

TEST(SweepErrors, CommandsWithParams) {
  EXPECT_EQ(error_of("[job]\nkind = \"command\"\ncommands = [\"echo hi\"]\n[params]\nx = [1]\n"),
            "test.toml:3: job.commands: [params] makes one task per combination, and commands and file have their own "
            "task list; give a command template instead (command = \"prog --x {x}\")");
  EXPECT_EQ(
      error_of("[job]\nkind = \"command\"\ncommands = [\"echo hi\"]\ncommand = \"echo {x}\"\n[params]\nx = [1]\n"),
      "test.toml:4: job.command: give only one of commands, file and command (a template over [params])");
}

// ------------------------------------------------------------ [job.results]

namespace {

const std::string RESULTS = "[job]\nkind = \"command\"\ncommands = [\"true\"]\n[job.results]\n";

}  // namespace

TEST(ResultDeclarations, ColumnsFollowTheJobsOwnSortedByName) {
  auto loaded = load(RESULTS + "energy = \"float64\"\nlabel = \"text[16]\"\nhist = \"uint32[4]\"\nok = \"bool\"\n");
  const auto& columns = loaded.columns;
  ASSERT_EQ(columns.size(), 11u);
  EXPECT_EQ(columns[0].name, "exit_code");
  EXPECT_EQ(columns[7].name, "energy");
  EXPECT_EQ(columns[7].type, ColumnType::F64);
  EXPECT_EQ(columns[7].description, "declared in [job.results] as float64");
  EXPECT_EQ(columns[8].name, "hist");
  EXPECT_EQ(columns[8].type, ColumnType::U32);
  EXPECT_EQ(columns[8].length, 4u);
  EXPECT_EQ(columns[9].name, "label");
  EXPECT_EQ(columns[9].type, ColumnType::Text);
  EXPECT_EQ(columns[9].length, 16u);
  EXPECT_EQ(columns[10].name, "ok");
  EXPECT_EQ(columns[10].type, ColumnType::Bool);
}

TEST(ResultDeclarations, BadTypes) {
  EXPECT_EQ(error_of(RESULTS + "energy = \"float65\"\n"),
            "test.toml:5: job.results.energy: expected one of bool, uint8, int32, int64, uint32, uint64, float64, "
            "text[N], or an array T[N] of one of them, found \"float65\" (a string)");
  EXPECT_EQ(error_of(RESULTS + "energy = \"float64[0]\"\n"),
            "test.toml:5: job.results.energy: expected one of bool, uint8, int32, int64, uint32, uint64, float64, "
            "text[N], or an array T[N] of one of them with N from 1 to 65536, found \"float64[0]\" (a string)");
  EXPECT_EQ(error_of(RESULTS + "energy = \"float64[65537]\"\n"),
            "test.toml:5: job.results.energy: expected one of bool, uint8, int32, int64, uint32, uint64, float64, "
            "text[N], or an array T[N] of one of them with N from 1 to 65536, found \"float64[65537]\" (a string)");
  EXPECT_EQ(error_of(RESULTS + "energy = \"float64[x]\"\n"),
            "test.toml:5: job.results.energy: expected one of bool, uint8, int32, int64, uint32, uint64, float64, "
            "text[N], or an array T[N] of one of them with N from 1 to 65536, found \"float64[x]\" (a string)");
  EXPECT_EQ(error_of(RESULTS + "energy = 3\n"),
            "test.toml:5: job.results.energy: expected a type such as \"float64\", \"int64\", \"bool\", \"text[32]\" "
            "or \"float64[16]\", found 3 (an integer)");
}

TEST(ResultDeclarations, TextWithoutALength) {
  EXPECT_EQ(error_of(RESULTS + "label = \"text\"\n"),
            "test.toml:5: job.results.label: expected text[N], the most bytes a value may take (N from 1 to 65536), "
            "found \"text\" (a string)");
}

TEST(ResultDeclarations, ClashWithABuiltInColumn) {
  EXPECT_EQ(error_of(RESULTS + "exit_code = \"int32\"\n"),
            "test.toml:5: job.results.exit_code: \"exit_code\" is one of the job's own result columns; name your "
            "result otherwise");
}

TEST(ResultDeclarations, NameNotAnIdentifier) {
  EXPECT_EQ(
      error_of(RESULTS + "\"a b\" = \"int64\"\n"),
      "test.toml:5: job.results.a b: a result's name must be an identifier (a letter or _, then letters, digits or _)");
}

TEST(ResultDeclarations, EmptyTable) {
  EXPECT_EQ(
      error_of(RESULTS),
      "test.toml:4: job.results: expected at least one result, name = \"type\" (for example energy = \"float64\")");
}

TEST(ResultTypes, ParseEveryType) {
  struct Case {
    const char* text;
    ColumnType type;
    std::uint64_t length;
  };
  for (const Case& c :
       {Case{"bool", ColumnType::Bool, 1}, Case{"uint8", ColumnType::U8, 1}, Case{"int32", ColumnType::I32, 1},
        Case{"int64", ColumnType::I64, 1}, Case{"uint32", ColumnType::U32, 1}, Case{"uint64", ColumnType::U64, 1},
        Case{"float64", ColumnType::F64, 1}, Case{"text[32]", ColumnType::Text, 32},
        Case{"float64[16]", ColumnType::F64, 16}, Case{"bool[2]", ColumnType::Bool, 2},
        Case{"text[65536]", ColumnType::Text, 65536}, Case{"int64[65536]", ColumnType::I64, 65536}}) {
    std::string why;
    auto column = fanout::parse_result_type(c.text, why);
    ASSERT_TRUE(column.has_value()) << c.text << ": " << why;
    EXPECT_EQ(column->type, c.type) << c.text;
    EXPECT_EQ(column->length, c.length) << c.text;
    EXPECT_EQ(fanout::column_type_text(*column), c.text);
  }
}

TEST(ResultTypes, Rejected) {
  for (const char* text :
       {"", "float", "Float64", "float64 ", "float64[", "float64[]", "float64[0]", "float64[-1]", "float64[1.5]",
        "float64[65537]", "float64[2]x", "float64[2][3]", "text", "text[]", "[4]", "int64[+4]x"}) {
    std::string why;
    EXPECT_FALSE(fanout::parse_result_type(text, why).has_value()) << text;
    EXPECT_FALSE(why.empty()) << text;
  }
}

// ------------------------------------------------------- the result file

namespace {

// Every declared type, after two columns of the job's own (first = 2).
class ResultFile : public ::testing::Test {
 protected:
  ResultFile() : layout_(all()), bytes_(layout_.size()), row_(layout_, bytes_) {}

  static std::vector<Column> declared() {
    auto column = [](const char* name, const char* type) {
      std::string why;
      Column c = *fanout::parse_result_type(type, why);
      c.name = name;
      return c;
    };
    return {column("b", "bool"),     column("f", "float64"),     column("farr", "float64[3]"), column("i32", "int32"),
            column("i64", "int64"),  column("iarr", "int32[2]"), column("barr", "bool[2]"),    column("t", "text[8]"),
            column("u32", "uint32"), column("u64", "uint64"),    column("u8", "uint8")};
  }
  static std::vector<Column> all() {
    Column own{"own", ColumnType::I32, "", "", 1};
    Column tail{"tail", ColumnType::Text, "", "", 4};
    std::vector<Column> columns{own, tail};
    for (auto& c : declared()) columns.push_back(c);
    return columns;
  }
  // Parses `text`; "" or the message.
  std::string parse(const std::string& text) {
    std::fill(bytes_.begin(), bytes_.end(), std::byte{0});
    return fanout::parse_result_file(text, declared(), row_, 2);
  }
  std::size_t index(const char* name) const {
    auto columns = all();
    for (std::size_t c = 0; c < columns.size(); ++c)
      if (columns[c].name == name) return c;
    throw std::logic_error(name);
  }
  template <class T>
  T get(const char* name) const {
    return row_.get<T>(index(name));
  }
  template <class T>
  std::vector<T> array(const char* name) const {
    std::size_t c = index(name);
    std::vector<T> values(layout_.length(c));
    std::memcpy(values.data(), bytes_.data() + layout_.offset(c), layout_.bytes(c));
    return values;
  }
  std::vector<bool> bools(const char* name) const {
    std::size_t c = index(name);
    std::vector<bool> values;
    for (std::size_t k = 0; k < layout_.length(c); ++k) values.push_back(bytes_[layout_.offset(c) + k] != std::byte{0});
    return values;
  }
  std::string text(const char* name) const { return std::string(row_.text(index(name))); }

  // A full, valid name=value file with `line` replacing the line of its name.
  static std::string lines_with(const std::string& line) {
    std::string name = line.substr(0, line.find('='));
    std::string out;
    for (const char* l : {"b=true", "f=1.5", "farr=1 2 3", "i32=-5", "i64=-9000000000", "iarr=[1, 2]",
                          "barr=true,false", "t=hello", "u32=4000000000", "u64=18446744073709551615", "u8=255"})
      out += std::string(l).rfind(name + "=", 0) == 0 ? line + "\n" : std::string(l) + "\n";
    return out;
  }
  // A full, valid JSON object with `member` ("name": value) replacing its name's.
  static std::string json_with(const std::string& member) {
    std::string name = member.substr(0, member.find(':'));
    std::string out = "{";
    for (const char* m : {"\"b\": false", "\"f\": -2.25e3", "\"farr\": [0.5, 1, -1e-300]", "\"i32\": -2147483648",
                          "\"i64\": 9223372036854775807", "\"iarr\": [7, -7]", "\"barr\": [false, true]",
                          "\"t\": \"\\u00e9t\\u00e9\"", "\"u32\": 0", "\"u64\": 18446744073709551615", "\"u8\": 0"})
      out += (out.size() > 1 ? ", " : "") + (std::string(m).rfind(name + ":", 0) == 0 ? member : std::string(m));
    return out + "}";
  }

  fanout::RowLayout layout_;
  std::vector<std::byte> bytes_;
  fanout::Row row_;
};

}  // namespace

TEST_F(ResultFile, NameValueLinesOfEveryType) {
  ASSERT_EQ(parse("# a comment\n\n" + lines_with("t=hello")), "");
  EXPECT_EQ(get<bool>("b"), true);
  EXPECT_EQ(get<double>("f"), 1.5);
  EXPECT_EQ(array<double>("farr"), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(get<std::int32_t>("i32"), -5);
  EXPECT_EQ(get<std::int64_t>("i64"), -9000000000);
  EXPECT_EQ(array<std::int32_t>("iarr"), (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(bools("barr"), (std::vector<bool>{true, false}));
  EXPECT_EQ(text("t"), "hello");
  EXPECT_EQ(get<std::uint32_t>("u32"), 4000000000u);
  EXPECT_EQ(get<std::uint64_t>("u64"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(get<std::uint8_t>("u8"), 255);
  EXPECT_EQ(get<std::int32_t>("own"), 0);  // the job's own columns are not touched
}

TEST_F(ResultFile, NameValueSpacingAndLineEnds) {
  ASSERT_EQ(parse("  b = 1 \r\n f\t=\t-0.25\r\nfarr = [1e3, 2.5e-1, -3]\r\ni32=+7\ni64 = 0\niarr = 3,4\nbarr = [1 0]\n"
                  "t = two wds\nu32=1\nu64 = 2\nu8=3"),
            "");
  EXPECT_EQ(get<bool>("b"), true);
  EXPECT_EQ(get<double>("f"), -0.25);
  EXPECT_EQ(array<double>("farr"), (std::vector<double>{1000, 0.25, -3}));
  EXPECT_EQ(get<std::int32_t>("i32"), 7);
  EXPECT_EQ(array<std::int32_t>("iarr"), (std::vector<std::int32_t>{3, 4}));
  EXPECT_EQ(bools("barr"), (std::vector<bool>{true, false}));
  EXPECT_EQ(text("t"), "two wds");  // inner spaces kept
}

TEST_F(ResultFile, JsonOfEveryType) {
  ASSERT_EQ(parse(" \n" + json_with("\"t\": \"\\u00e9t\\u00e9\"") + "\n"), "");
  EXPECT_EQ(get<bool>("b"), false);
  EXPECT_EQ(get<double>("f"), -2250);
  EXPECT_EQ(array<double>("farr"), (std::vector<double>{0.5, 1, -1e-300}));
  EXPECT_EQ(get<std::int32_t>("i32"), std::numeric_limits<std::int32_t>::min());
  EXPECT_EQ(get<std::int64_t>("i64"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(array<std::int32_t>("iarr"), (std::vector<std::int32_t>{7, -7}));
  EXPECT_EQ(bools("barr"), (std::vector<bool>{false, true}));
  EXPECT_EQ(text("t"), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(get<std::uint32_t>("u32"), 0u);
  EXPECT_EQ(get<std::uint64_t>("u64"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(get<std::uint8_t>("u8"), 0);
}

TEST_F(ResultFile, WholeFloatsFitIntegers) {
  ASSERT_EQ(parse(json_with("\"i64\": 3.0")), "");
  EXPECT_EQ(get<std::int64_t>("i64"), 3);
  ASSERT_EQ(parse(lines_with("u8=2e2")), "");
  EXPECT_EQ(get<std::uint8_t>("u8"), 200);
}

TEST_F(ResultFile, NonFiniteFloats) {
  ASSERT_EQ(parse(json_with("\"f\": \"NaN\"")), "");
  EXPECT_TRUE(std::isnan(get<double>("f")));
  ASSERT_EQ(parse(json_with("\"f\": \"-Infinity\"")), "");
  EXPECT_EQ(get<double>("f"), -HUGE_VAL);
  ASSERT_EQ(parse(lines_with("f=inf")), "");
  EXPECT_EQ(get<double>("f"), HUGE_VAL);
  ASSERT_EQ(parse(lines_with("f=nan")), "");
  EXPECT_TRUE(std::isnan(get<double>("f")));
}

TEST_F(ResultFile, MissingResults) {
  EXPECT_EQ(parse("b=true\n"), "missing results f, farr, i32, i64, iarr, barr, t, u32, u64, u8");
  EXPECT_EQ(parse("{\"b\": true, \"f\": 1, \"farr\": [1, 2, 3], \"i32\": 1, \"i64\": 1, \"iarr\": [1, 2], "
                  "\"barr\": [true, true], \"t\": \"\", \"u32\": 1, \"u64\": 1}"),
            "missing result u8");
}

TEST_F(ResultFile, UndeclaredName) {
  EXPECT_EQ(parse(lines_with("u8=1") + "energy=2\n"),
            "\"energy\" is not a declared result (declared: b, f, farr, i32, i64, iarr, barr, t, u32, u64, u8)");
  EXPECT_EQ(parse("{\"energy\": 2, " + json_with("\"u8\": 1").substr(1)),
            "\"energy\" is not a declared result (declared: b, f, farr, i32, i64, iarr, barr, t, u32, u64, u8)");
}

TEST_F(ResultFile, WrongType) {
  EXPECT_EQ(parse(lines_with("f=abc")), "result f (float64): found \"abc\", not a number");
  EXPECT_EQ(parse(lines_with("b=yes")), "result b (bool): found \"yes\", not true or false");
  EXPECT_EQ(parse(lines_with("b=2")), "result b (bool): found 2, not true or false");
  EXPECT_EQ(parse(lines_with("i32=true")), "result i32 (int32): found true, not a whole number");
  EXPECT_EQ(parse(json_with("\"t\": 5")), "result t: found 5, not a text");
  EXPECT_EQ(parse(json_with("\"t\": [\"a\"]")), "result t: found a list, not a text");
  EXPECT_EQ(parse(json_with("\"f\": \"1.5\"")), "result f (float64): found \"1.5\", not a number");
  EXPECT_EQ(parse(json_with("\"f\": null")), "result f: found null, not a value");
  EXPECT_EQ(parse(json_with("\"f\": {\"a\": 1}")), "result f: found an object, not a value");
  EXPECT_EQ(parse(json_with("\"farr\": [1, [2], 3]")), "result farr: found a nested list, not a value");
}

TEST_F(ResultFile, ArrayShapes) {
  EXPECT_EQ(parse(lines_with("farr=1")), "result farr: found one value, expected a list of 3 (float64[3])");
  EXPECT_EQ(parse(lines_with("farr=1 2")), "result farr: found 2 values, expected 3 (float64[3])");
  EXPECT_EQ(parse(json_with("\"farr\": [1, 2, 3, 4]")), "result farr: found 4 values, expected 3 (float64[3])");
  EXPECT_EQ(parse(lines_with("f=1 2")), "result f: found a list, expected one float64");
  EXPECT_EQ(parse(lines_with("f=[1]")), "result f: found a list, expected one float64");
  EXPECT_EQ(parse(json_with("\"f\": [1]")), "result f: found a list, expected one float64");
  EXPECT_EQ(parse(lines_with("iarr=1 x")), "result iarr[1]: found \"x\", not a whole number");
  EXPECT_EQ(parse(lines_with("f=")), "result f: no value after =");
}

TEST_F(ResultFile, OutOfRange) {
  EXPECT_EQ(parse(lines_with("u8=300")), "result u8 (uint8): 300 is out of range (0 to 255)");
  EXPECT_EQ(parse(lines_with("u8=-1")), "result u8 (uint8): -1 is out of range (0 to 255)");
  EXPECT_EQ(parse(lines_with("i32=2147483648")),
            "result i32 (int32): 2147483648 is out of range (-2147483648 to 2147483647)");
  EXPECT_EQ(parse(lines_with("u64=-1")), "result u64 (uint64): -1 is out of range (0 to 18446744073709551615)");
  EXPECT_EQ(parse(lines_with("u64=18446744073709551616")),
            "result u64 (uint64): 1.8446744073709552e+19 is out of range (0 to 18446744073709551615)");
  EXPECT_EQ(parse(lines_with("i64=9223372036854775808")),
            "result i64 (int64): 9223372036854775808 is out of range (-9223372036854775808 to 9223372036854775807)");
  EXPECT_EQ(parse(json_with("\"i64\": 9223372036854775808")),
            "result i64 (int64): 9223372036854775808 is out of range (-9223372036854775808 to 9223372036854775807)");
  EXPECT_EQ(parse(json_with("\"i64\": 9.3e18")),
            "result i64 (int64): 9.3e+18 is out of range (-9223372036854775808 to 9223372036854775807)");
  EXPECT_EQ(parse(json_with("\"u32\": 4294967296")),
            "result u32 (uint32): 4294967296 is out of range (0 to 4294967295)");
  EXPECT_EQ(parse(json_with("\"u64\": 1.8446744073709552e19")),
            "result u64 (uint64): 1.8446744073709552e+19 is out of range (0 to 18446744073709551615)");
}

TEST_F(ResultFile, NotAWholeNumber) {
  EXPECT_EQ(parse(lines_with("i32=1.5")), "result i32 (int32): found 1.5, not a whole number");
  EXPECT_EQ(parse(lines_with("i64=nan")), "result i64 (int64): found nan, not a whole number");
  EXPECT_EQ(parse(json_with("\"u8\": 1.5")), "result u8 (uint8): found 1.5, not a whole number");
  EXPECT_EQ(parse(json_with("\"i64\": \"NaN\"")), "result i64 (int64): found \"NaN\", not a whole number");
  EXPECT_EQ(parse(json_with("\"iarr\": [1, 2.5]")), "result iarr[1]: found 2.5, not a whole number");
}

TEST_F(ResultFile, TextTooLong) {
  EXPECT_EQ(parse(lines_with("t=123456789")), "result t: a text of 9 bytes is too long for text[8]");
  EXPECT_EQ(parse(json_with("\"t\": \"123456789\"")), "result t: a text of 9 bytes is too long for text[8]");
  ASSERT_EQ(parse(lines_with("t=12345678")), "");
  EXPECT_EQ(text("t"), "12345678");
}

TEST_F(ResultFile, DuplicateName) { EXPECT_EQ(parse(lines_with("u8=1") + "u8=2\n"), "result u8 is given twice"); }

// A JSON name given twice is an error, as in the name=value form.
TEST_F(ResultFile, DuplicateNameInJson) {
  EXPECT_EQ(parse("{\"u8\": 2, " + json_with("\"u8\": 1").substr(1)), "result u8 is given twice");
}

// One sign at most: "+-5" is no number.
TEST_F(ResultFile, PlusMinusIsNotANumber) {
  EXPECT_EQ(parse(lines_with("i32=+-5")), "result i32 (int32): found \"+-5\", not a whole number");
}

TEST_F(ResultFile, NeitherForm) {
  EXPECT_EQ(parse("just some output\n"),
            "line 1 of the result file is not name=value (nor is the file one JSON object)");
  EXPECT_EQ(parse("{\"b\": true"), "the result file starts with { but is not valid JSON (nor name=value lines)");
  EXPECT_EQ(parse("[1, 2]"), "line 1 of the result file is not name=value (nor is the file one JSON object)");
  EXPECT_EQ(parse("{} trailing"), "the result file starts with { but is not valid JSON (nor name=value lines)");
}

TEST_F(ResultFile, EmptyFile) {
  EXPECT_EQ(parse(""),
            "no results: the result file is empty (expected b, f, farr, i32, i64, iarr, barr, t, u32, u64, u8)");
  EXPECT_EQ(parse(" \n\t\r\n"),
            "no results: the result file is empty (expected b, f, farr, i32, i64, iarr, barr, t, u32, u64, u8)");
  EXPECT_EQ(parse("# only a comment\n"), "missing results b, f, farr, i32, i64, iarr, barr, t, u32, u64, u8");
  EXPECT_EQ(parse("{}"), "missing results b, f, farr, i32, i64, iarr, barr, t, u32, u64, u8");
}

TEST_F(ResultFile, NulAndSize) {
  EXPECT_EQ(parse(std::string("b=true\0\n", 8)), "the result file holds a NUL byte: not text");
  EXPECT_EQ(parse(std::string(fanout::MAX_RESULT_FILE_BYTES + 1, ' ')), "the result file is larger than 16 MiB");
}

TEST_F(ResultFile, FirstErrorWinsAndTheRestIsStored) {
  EXPECT_EQ(parse(lines_with("u8=300") + "garbage\n"), "result u8 (uint8): 300 is out of range (0 to 255)");
  EXPECT_EQ(get<std::uint64_t>("u64"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(text("t"), "hello");
}

// Fixes from the first review of sweeps (2026-12-03).

TEST(SweepConfig, LogScaleDecadesAreExact) {
  auto loaded = load(COMMAND + "[params]\nx = { from = 1e-3, to = 1e3, num = 7, scale = \"log\" }\n");
  EXPECT_EQ(column_of(*loaded.sweep, "x"),
            (std::vector<std::string>{"0.001", "0.01", "0.1", "1", "10", "100", "1000"}));
}

TEST(SweepConfig, CsvQuotedFieldsAreTextAndUnquotedOnesAreTrimmed) {
  TempDir dir;
  auto loaded = load(with_file(dir.write("t.csv", "id, n\n\"007\", 1\n\"010\", 2\n")));
  const Sweep& sweep = *loaded.sweep;
  EXPECT_EQ(sweep.params()[*sweep.find("id")].type, ParamType::Text);
  EXPECT_EQ(column_of(sweep, "id"), (std::vector<std::string>{"007", "010"}));
  EXPECT_EQ(sweep.params()[*sweep.find("n")].type, ParamType::Int);
  EXPECT_EQ(column_of(sweep, "n"), (std::vector<std::string>{"1", "2"}));
}

TEST(SweepErrors, AxesListingANameTwice) {
  EXPECT_EQ(error_of(COMMAND + "[params]\nb = [1, 2]\n[sweep]\naxes = [\"b\", \"b\"]\n"),
            "test.toml:7: sweep.axes: lists \"b\" twice");
}

TEST(SweepErrors, TemplateSlotInsideQuotes) {
  const std::string job = "[job]\nkind = \"command\"\n";
  EXPECT_EQ(error_of(job + "command = \"echo \\\"{x}\\\"\"\n[params]\nx = [1]\n"),
            "test.toml:3: job.command: {x} is inside double quotes; write it bare: fanout quotes each value for the "
            "shell itself, so that it arrives as one argument");
  EXPECT_EQ(error_of(job + "command = \"echo '{x}'\"\n[params]\nx = [1]\n"),
            "test.toml:3: job.command: {x} is inside single quotes; write it bare: fanout quotes each value for the "
            "shell itself, so that it arrives as one argument");
  // Quotes that are closed, escaped, or of the other kind inside do not count.
  EXPECT_NO_THROW(load(job + "command = \"echo 'a' {x} \\\\\\\" {x} \\\"it's\\\" {x}\"\n[params]\nx = [1]\n"));
}

TEST_F(ResultFile, ByteOrderMarkBeforeJson) { EXPECT_EQ(parse("\xEF\xBB\xBF" + json_with("\"u8\": 1")), ""); }

TEST_F(ResultFile, NulInAJsonText) {
  EXPECT_EQ(parse(json_with("\"t\": \"a\\u0000b\"")), "result t: a text cannot hold a NUL character");
}
