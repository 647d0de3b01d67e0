# The layer rules an include path cannot enforce (the include roots of
# fanout_layer, CMakeLists.txt, enforce the rest), checked when CMake
# configures and by the test layers_rules (cmake -DSOURCE_DIR=... -P this file):
#  - nothing below main names MPI_COMM_WORLD (STYLE.md 2: the communicator is
#    passed down; the jobs above all must run on any communicator);
#  - no include climbs out of its folder with "../" (it would bypass the roots).
function(fanout_check_layers source_dir)
  file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE ${source_dir}
       ${source_dir}/src/*.cpp ${source_dir}/src/*.hpp ${source_dir}/jobs/*.cpp ${source_dir}/jobs/*.hpp)
  set(problems "")
  foreach(file IN LISTS files)
    file(STRINGS ${source_dir}/${file} lines REGEX "MPI_COMM_WORLD|#[ \t]*include[ \t]*\"\\.\\./")
    foreach(line IN LISTS lines)
      if(line MATCHES "#[ \t]*include[ \t]*\"\\.\\./")
        string(APPEND problems "  ${file}: an include climbs out of its folder: ${line}\n")
      elseif(NOT file STREQUAL "src/main.cpp" AND line MATCHES "(^|[^A-Za-z0-9_])MPI_COMM_WORLD([^A-Za-z0-9_]|$)")
        string(APPEND problems "  ${file}: names MPI_COMM_WORLD (take the communicator as an argument): ${line}\n")
      endif()
    endforeach()
  endforeach()
  if(problems)
    message(FATAL_ERROR "fanout's layer rules (cmake/check_layers.cmake) are broken:\n${problems}")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  fanout_check_layers(${SOURCE_DIR})
  message(STATUS "layer rules hold in ${SOURCE_DIR}")
endif()
