#!/bin/sh
# Runs COMMAND... with a temporary directory of its own: TMPDIR and Open
# MPI's session directory base (OMPI_MCA_orte_tmpdir_base) point to it.
# ctest starts every test that runs MPI through this (FANOUT_TEST_LAUNCHER in
# tests/CMakeLists.txt), so that no test shares Open MPI's session directory
# /tmp/ompi.HOST.UID with another run: one left by another user, or by root
# when a test runs mpirun as the root of a user namespace (unshare -r), makes
# mpirun fail with "orte_session_dir failed". Mode 1777 like /tmp: a test may
# run a program as another user (tests/e2e/test_errors.py: setpriv nobody).
# Removed when COMMAND succeeds; kept (and named on stderr) when it fails,
# with the test's own work directories in it.
#   tests/private-tmp.sh COMMAND [ARG...]     exit status: COMMAND's
dir=$(mktemp -d "${TMPDIR:-/tmp}/fanout.XXXXXX") || exit 1
chmod 1777 "$dir"
TMPDIR=$dir OMPI_MCA_orte_tmpdir_base=$dir "$@"
status=$?
if [ "$status" = 0 ]; then
  rm -rf "$dir"
else
  echo "private-tmp.sh: exit status $status; temporary directory kept: $dir" >&2
fi
exit "$status"
