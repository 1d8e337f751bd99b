# SPDX-License-Identifier: MIT
#
# boxy_add_fuzzer(NAME SOURCES harness.cpp lib.cpp... [INCLUDES dir...]
#                 [DEPENDS header...] [MAX_LEN n])
#
# A libFuzzer target for code that parses untrusted input, built by clang
# directly (libFuzzer is clang's) from the library's sources rather than the
# gcc-built archives, with ASan and UBSan. It also runs as the bounded ctest
# "fuzz: NAME" (fixed seed, 200,000 inputs, label fuzz), so a crash found
# there fails the suite. Relative SOURCES are taken from the calling
# directory; include/, the generated headers and tests/fuzz (fuzz_input.hpp)
# are always on the path.
# Without clang the configure step fails: a fuzz test is never skipped.
find_program(BOXY_CLANGXX NAMES clang++-14 clang++)

function(boxy_add_fuzzer name)
  cmake_parse_arguments(PARSE_ARGV 1 fuzz "" "MAX_LEN" "SOURCES;INCLUDES;DEPENDS")
  if(NOT BOXY_CLANGXX)
    message(FATAL_ERROR "clang++ not found; the fuzz tests need it: apt-get install clang "
      "libclang-rt-14-dev (scripts/install-deps.sh), or configure with -DBOXY_BUILD_TESTS=OFF")
  endif()
  if(NOT fuzz_MAX_LEN)
    set(fuzz_MAX_LEN 4096)
  endif()
  list(TRANSFORM fuzz_SOURCES PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/" REGEX "^[^/]")
  set(includes "${CMAKE_SOURCE_DIR}/include" "${CMAKE_BINARY_DIR}/generated"
    "${CMAKE_SOURCE_DIR}/tests/fuzz" ${fuzz_INCLUDES})
  list(TRANSFORM includes PREPEND "-I")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${name}")
  add_custom_command(OUTPUT "${out}"
    COMMAND "${BOXY_CLANGXX}" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=all ${includes} ${fuzz_SOURCES} -o "${out}"
    DEPENDS ${fuzz_SOURCES} ${fuzz_DEPENDS} "${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_input.hpp"
    COMMENT "Building fuzz target ${name}" VERBATIM)
  add_custom_target(${name}_build ALL DEPENDS "${out}")
  add_test(NAME "fuzz: ${name}" COMMAND "${out}" -seed=1 -runs=200000 -max_len=${fuzz_MAX_LEN})
  set_tests_properties("fuzz: ${name}" PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()
