// Slurm without a cluster: durations as Slurm prints them, the rendering of
// the batch template, shell quoting, the context outside an allocation.
// (tests/slurm runs the real thing on a local cluster.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "slurm/sbatch.hpp"
#include "slurm/slurm.hpp"

using namespace fanout::slurm;

TEST(SlurmDuration, ParsesEveryFormSlurmPrints) {
  EXPECT_EQ(parse_duration("00:30:00"), 1800.0);
  EXPECT_EQ(parse_duration("1:02:03"), 3723.0);
  EXPECT_EQ(parse_duration("5:00"), 300.0);  // squeue: M:SS
  EXPECT_EQ(parse_duration("45"), 2700.0);   // minutes, as --time takes it
  EXPECT_EQ(parse_duration("2-00:00:01"), 2 * 86400.0 + 1);
  EXPECT_EQ(parse_duration("1-12"), 86400.0 + 12 * 3600);
  EXPECT_EQ(parse_duration("1-00:30"), 86400.0 + 30 * 60);
  EXPECT_FALSE(parse_duration("UNLIMITED"));
  EXPECT_FALSE(parse_duration("NOT_SET"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("1:2:3:4"));
}

TEST(SlurmContext, EmptyOutsideAnAllocation) {
  unsetenv("SLURM_JOB_ID");
  unsetenv("SLURMD_NODENAME");
  EXPECT_FALSE(in_allocation());
  EXPECT_FALSE(seconds_left());
  EXPECT_FALSE(allocation_end());
  EXPECT_FALSE(time_limit_stop_check(60));    // no check at all outside Slurm
  EXPECT_TRUE(context_attributes().empty());  // no empty slurm_* attributes outside Slurm (since format 1.5)
  EXPECT_FALSE(node_name().empty());          // the host name
  setenv("SLURMD_NODENAME", "n7", 1);
  EXPECT_EQ(node_name(), "n7");
  unsetenv("SLURMD_NODENAME");
}

TEST(SlurmShell, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(shell_quote("configs/spin.toml"), "configs/spin.toml");
  EXPECT_EQ(shell_quote("job.tasks=5"), "job.tasks=5");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("$HOME"), "'$HOME'");
}

TEST(SlurmRender, ReplacesTheTemplatesLinesAndAddsTheRest) {
  const std::string tmpl =
      "#!/bin/bash\n"
      "#SBATCH --nodes=1\n"
      "#SBATCH --time=00:30:00\n"
      "##SBATCH --partition=compute\n"
      "#SBATCH --requeue\n"
      "FANOUT=${FANOUT:-build/fanout}\n"
      "FANOUT_ARGS=(\"$@\")\n";
  BatchRequest request;
  request.options = {{"nodes", "2"}, {"ntasks", "3"}, {"time", "01:00:00"}, {"output", "a b.out"}};
  request.fanout = "/opt/fanout";
  request.run_args = {"c.toml", "--set", "job.x='y'"};
  request.rendered_by = "fanout submit c.toml";
  EXPECT_EQ(render_batch_script(tmpl, "t.sbatch", request),
            "#!/bin/bash\n"
            "# Rendered from t.sbatch by:\n"
            "#   fanout submit c.toml\n"
            "#SBATCH --nodes=2\n"
            "#SBATCH --ntasks=3\n"
            "#SBATCH --time=01:00:00\n"
            "#SBATCH --output=\"a b.out\"\n"
            "##SBATCH --partition=compute\n"
            "#SBATCH --requeue\n"
            "FANOUT=${FANOUT:-/opt/fanout}\n"
            "FANOUT_ARGS=(c.toml --set 'job.x='\\''y'\\''')\n");
  request.options.push_back({"partition", "gpu"});
  std::string with_partition = render_batch_script(tmpl, "t.sbatch", request);
  EXPECT_NE(with_partition.find("\n#SBATCH --partition=gpu\n#SBATCH --requeue\n"), std::string::npos) << with_partition;
}

TEST(SlurmRender, RefusesATemplateWithoutItsLines) {
  BatchRequest request;
  try {
    render_batch_script("#!/bin/bash\n#SBATCH --nodes=1\n", "/x/t.sbatch", request);
    FAIL() << "no error";
  } catch (const fanout::IoError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/x/t.sbatch: not a fanout batch template: it needs a FANOUT=... line and a FANOUT_ARGS=... line "
              "(see slurm/fanout.sbatch)");
  }
}
