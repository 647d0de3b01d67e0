#pragma once
// What fanout learns from Slurm inside an allocation: the job's context (for
// the run file), the node a rank runs on, and how much time the allocation
// has left. Also runs Slurm's commands (squeue, scontrol, sbatch).
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/records.hpp"

namespace boost::mpi {
class communicator;
}

namespace fanout::slurm {

// Is this process inside a Slurm allocation (SLURM_JOB_ID set)?
bool in_allocation();

// The root attributes that record the Slurm context, in this order:
// slurm_job_id, slurm_array_task_id, slurm_nodelist, slurm_partition,
// slurm_cpus_per_task, slurm_time_limit; a value is "" when Slurm does not
// say (e.g. no array). None at all outside Slurm. The time limit comes from squeue.
std::vector<std::pair<std::string, std::string>> context_attributes();

// The node this process runs on: SLURMD_NODENAME inside a Slurm job step
// (emulated nodes on one machine share a host name but not this), else the
// host name.
std::string node_name();

// Collective. Rank 0 writes every rank's node_name() into ranks[r].node
// (the /ranks rows it gathered); the other ranks leave theirs alone.
void record_nodes(const boost::mpi::communicator& comm, std::vector<RankRecord>& ranks);

// Seconds left before the allocation's time limit, read from squeue (%L),
// or nothing outside Slurm, for a job without a limit, or when squeue fails.
std::optional<double> seconds_left();

// When the allocation's time limit is up, on the steady_seconds() clock
// (src/core/clock.hpp): now + seconds_left(), read once. Nothing outside
// Slurm or without a limit.
std::optional<double> allocation_end();

// A RunSettings::stop_check for rank 0: "" while a task as long as the
// longest seen so far, started now, would still end `margin` seconds before
// allocation_end(); then the reason to stop handing out tasks, so that no
// task is cut by the time limit and the file is written before Slurm kills
// the job. An empty function outside Slurm or without a limit.
std::function<std::string(double longest_task)> time_limit_stop_check(double margin);

// A Slurm duration as squeue and scontrol print it, or as --time takes it:
// "D-HH:MM:SS", "D-HH:MM", "D-HH", "HH:MM:SS", "MM:SS" or "MM", in seconds.
// Nothing for UNLIMITED, NOT_SET, INVALID or anything else.
std::optional<double> parse_duration(const std::string& text);

struct CommandResult {
  int status = -1;  // the exit status; -1 if the command could not start or died of a signal
  std::string out;  // its standard output
  std::string err;  // its standard error (or why it could not start)
};

// Runs argv (found on PATH, no shell) with this process's environment and
// no standard input, and collects its output.
CommandResult run_command(const std::vector<std::string>& argv);

}  // namespace fanout::slurm
