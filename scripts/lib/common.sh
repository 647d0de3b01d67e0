# Shared by scripts/demo.sh and scripts/test.sh: install what is missing, build.
# shellcheck shell=bash

# The Debian 12 packages fanout needs to build, test and analyse.
FANOUT_PACKAGES=(
  build-essential cmake git
  openmpi-bin libopenmpi-dev
  libboost-mpi-dev libboost-serialization-dev
  libhdf5-openmpi-dev hdf5-tools zlib1g-dev
  libtomlplusplus-dev libcli11-dev libfmt-dev
  nlohmann-json3-dev        # the command job's result files (JSON)
  googletest libgtest-dev
  python3 python3-h5py python3-numpy
  python3-matplotlib python3-pandas   # fanout plot and python/fanout_analysis
  python3-venv              # tests/e2e/test_python_job.py: a virtualenv's python runs the python job
  python3-pip python3-setuptools   # pip install python/ (fanout_analysis), offline; tests/e2e/test_install.py
  coreutils
  python3-mpi4py parallel   # baselines of bench/ (ctest smoke-checks them)
  libprimesieve-dev         # the prime_count job counts with libprimesieve
  primesieve-bin            # the primesieve command: the oracle of the prime_count tests and its bench baseline
  slurm-wlm munge libpmix2   # fanout submit, slurm/fanout.sbatch, the local test cluster (srun --mpi=pmix)
  iproute2 util-linux        # tests/slurm: ip netns, unshare (mpirun across two network namespaces);
                             # tests/e2e/test_errors.py: setpriv, unshare
  clang libclang-rt-14-dev   # the config-parser fuzzer (tests/fuzz): clang and its libFuzzer
  clang-format clang-tidy    # scripts/check-format.sh (.clang-format), .clang-tidy
)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs the packages that are not installed yet (apt-get update first).
ensure_packages() {
  local missing=() p
  for p in "${FANOUT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "all ${#FANOUT_PACKAGES[@]} Debian packages are installed"
    return 0
  fi
  say "installing: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2; exit 3; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

jobs_count() { nproc 2>/dev/null || echo 2; }

# Configures and builds a Release build into build/ (binary build/fanout).
build_release() {
  say "configuring and building (Release) into build/"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j "$(jobs_count)"
}

# Configures and builds the asan preset's tests into build-asan/ (Debug,
# AddressSanitizer and UBSan): what scripts/test.sh runs after the Release suite.
build_asan() {
  say "configuring and building (Debug, AddressSanitizer + UBSan) into build-asan/"
  cmake --preset asan
  cmake --build build-asan -j "$(jobs_count)" --target fanout_unit_tests fanout_mpi_tests
}

# Open MPI refuses to run as root unless told that it is meant.
mpi_env() {
  if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

# What both quick-start commands do first: packages, a Release build, MPI env.
prepare() {
  ensure_packages
  build_release
  mpi_env
}
