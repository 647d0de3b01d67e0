// toml++ compiled once, here, with the fuzzer's instrumentation (the system
// library is not instrumented, so its parser would be a black box).
//
// Its internal assertions are off, as in the Debian library fanout links
// (built with g++ and NDEBUG, where TOML_ASSERT_ASSUME is a no-op): toml++
// 3.3 asserts in parse_key() on a table header such as "[\x1d", an input
// its parser then rejects with a proper syntax error (the regression test
// control_char_in_table_header in tests/e2e/test_errors.py checks the real
// binary). Not NDEBUG itself: with clang, NDEBUG turns those assertions into
// __builtin_assume, undefined behaviour on that same input. (Its other
// known bug, an unreachable point reached: see CMakeLists.txt.)
#define TOML_ASSERT(expr) static_assert(true)
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
