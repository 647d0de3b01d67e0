# Writes fanout's version header (src/core/version.hpp.in) with the commit
# being built: `git describe` of the source tree, 12 hex digits of HEAD, and
# "-dirty" when tracked files differ from it (untracked files do not count);
# "unknown" without git or outside a git checkout. The header is rewritten
# only when its text changes, so an unchanged commit rebuilds nothing.
# CMakeLists.txt runs it when it configures and, as the target
# fanout_version, at every build:
#   cmake -DSOURCE_DIR=DIR -DINPUT=version.hpp.in -DOUTPUT=version.hpp
#         -DPROJECT_VERSION=X.Y.Z [-DGIT_EXECUTABLE=git] -P cmake/version.cmake
foreach(var SOURCE_DIR INPUT OUTPUT PROJECT_VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "cmake/version.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GIT_EXECUTABLE)
  set(GIT_EXECUTABLE git)
endif()

# --exclude=*: no tag, the abbreviated commit alone (--always).
execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty=-dirty --abbrev=12 --exclude=*
  WORKING_DIRECTORY ${SOURCE_DIR}
  RESULT_VARIABLE git_result
  OUTPUT_VARIABLE FANOUT_GIT_SHA OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT git_result EQUAL 0 OR NOT FANOUT_GIT_SHA MATCHES "^[0-9a-f]+(-dirty)?$")
  set(FANOUT_GIT_SHA "unknown")
endif()
# configure_file leaves OUTPUT untouched when its text is the same.
configure_file(${INPUT} ${OUTPUT} @ONLY)
