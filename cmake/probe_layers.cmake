# Builds each layer probe of tests/layers (cmake -DBUILD_DIR=... -DPROBES=...
# -P this file); PROBES: "target|header|reject or accept" items. A rejected
# probe must fail on its header not being found (the compiler's message names
# it), not on anything else; an accepted one must build.
set(failures "")
foreach(probe IN LISTS PROBES)
  string(REPLACE "|" ";" fields "${probe}")
  list(GET fields 0 target)
  list(GET fields 1 header)
  list(GET fields 2 expect)
  string(REGEX REPLACE "^[\"<](.*)[\">]$" "\\1" name "${header}")
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${target}
                  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  string(REPLACE "." "\\." pattern "${name}")
  # GCC: "fatal error: x.hpp: No such file or directory"; Clang: "'x.hpp' file not found".
  set(not_found FALSE)
  if(output MATCHES "${pattern}: No such file or directory" OR output MATCHES "'${pattern}' file not found")
    set(not_found TRUE)
  endif()
  if(expect STREQUAL "reject" AND (result EQUAL 0 OR NOT not_found))
    string(APPEND failures "  ${target}: expected ${header} not to be found, got exit ${result}:\n${output}\n")
  elseif(expect STREQUAL "accept" AND NOT result EQUAL 0)
    string(APPEND failures "  ${target}: expected ${header} to compile, got exit ${result}:\n${output}\n")
  else()
    message(STATUS "${target}: ${header} ${expect}ed as it should be")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "layer probes:\n${failures}")
endif()
