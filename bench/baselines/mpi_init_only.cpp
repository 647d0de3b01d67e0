// The start-up floor: an MPI program that only calls MPI_Init and MPI_Finalize.
// `mpirun -n 2 mpi_init_only` measures what any MPI program pays before it
// does anything. With --default-pml-ob1 it first sets OMPI_MCA_pml=ob1 in its
// own environment unless it is already set (mpirun --mca pml X or an exported
// OMPI_MCA_pml still win): the transport default a workstation launcher could
// choose for itself, measured by bench 5.
#include <mpi.h>

#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--default-pml-ob1") == 0) setenv("OMPI_MCA_pml", "ob1", /*overwrite=*/0);
  MPI_Init(&argc, &argv);
  MPI_Finalize();
  return 0;
}
