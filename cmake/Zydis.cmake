# SPDX-License-Identifier: MIT
#
# Zydis for the freestanding world: Debian's zydis source package, fetched
# into the build tree at configure time (cmake/fetch-debian-source.sh), built
# with ZYAN_NO_LIBC against libzycore-dev's headers. The decoder needs no
# Zycore library code and no libc; nothing is vendored. The formatter needs
# Zycore's library and stays in the host world (Debian's libZydis).
#
# Offline builds: -DBOXY_ZYDIS_SOURCE_DIR=/path/to/unpacked/zydis.

set(BOXY_ZYDIS_SOURCE_DIR "" CACHE PATH "Unpacked zydis source (default: apt-get source zydis)")

if(NOT BOXY_ZYDIS_SOURCE_DIR)
  set(zydis_fetch_dir "${CMAKE_BINARY_DIR}/_deps/zydis")
  file(GLOB zydis_existing LIST_DIRECTORIES true "${zydis_fetch_dir}/zydis-*/src/Decoder.c")
  if(zydis_existing)
    list(GET zydis_existing 0 zydis_decoder)
    get_filename_component(zydis_src "${zydis_decoder}" DIRECTORY)
    get_filename_component(zydis_dir "${zydis_src}" DIRECTORY)
  else()
    message(STATUS "Fetching Debian's zydis source package into ${zydis_fetch_dir}")
    execute_process(
      COMMAND "${CMAKE_SOURCE_DIR}/cmake/fetch-debian-source.sh" zydis "${zydis_fetch_dir}"
      OUTPUT_VARIABLE zydis_dir OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE zydis_rc)
    if(NOT zydis_rc EQUAL 0)
      message(FATAL_ERROR "Could not fetch Debian's zydis source (see above). "
        "Run scripts/install-deps.sh, or pass -DBOXY_ZYDIS_SOURCE_DIR=<unpacked zydis>.")
    endif()
  endif()
  set(BOXY_ZYDIS_SOURCE_DIR "${zydis_dir}" CACHE PATH "" FORCE)
endif()

if(NOT EXISTS "${BOXY_ZYDIS_SOURCE_DIR}/src/Decoder.c")
  message(FATAL_ERROR "BOXY_ZYDIS_SOURCE_DIR=${BOXY_ZYDIS_SOURCE_DIR} is not a zydis source tree")
endif()
if(NOT EXISTS /usr/include/Zycore/Zycore.h)
  message(FATAL_ERROR "Zycore headers missing: apt-get install libzycore-dev")
endif()

# Only Zycore's headers may be visible, not the rest of /usr/include: a
# private include directory holding a link to them, and -nostdinc with just
# the compiler's own freestanding headers (stddef.h, stdint.h, ...).
set(zycore_only "${CMAKE_BINARY_DIR}/_deps/zycore-include")
file(MAKE_DIRECTORY "${zycore_only}")
file(CREATE_LINK /usr/include/Zycore "${zycore_only}/Zycore" SYMBOLIC)
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=include
  OUTPUT_VARIABLE compiler_include OUTPUT_STRIP_TRAILING_WHITESPACE)

# The decoder and the tables it reads. No Formatter*, Encoder*, String.c.
set(zydis_decoder_sources Decoder.c DecoderData.c SharedData.c Register.c MetaInfo.c Mnemonic.c
  Utils.c Zydis.c)
list(TRANSFORM zydis_decoder_sources PREPEND "${BOXY_ZYDIS_SOURCE_DIR}/src/")

add_library(zydis_freestanding STATIC ${zydis_decoder_sources})
set_target_properties(zydis_freestanding PROPERTIES C_STANDARD 11 POSITION_INDEPENDENT_CODE ON)
target_compile_definitions(zydis_freestanding
  PUBLIC ZYAN_NO_LIBC ZYDIS_STATIC_BUILD ZYCORE_STATIC_BUILD ZYDIS_DISABLE_FORMATTER
         ZYDIS_DISABLE_ENCODER)
target_compile_options(zydis_freestanding PRIVATE
  -ffreestanding -nostdinc -isystem "${compiler_include}" -fno-stack-protector -mno-red-zone
  -mgeneral-regs-only -fno-asynchronous-unwind-tables -w)
target_include_directories(zydis_freestanding PRIVATE "${BOXY_ZYDIS_SOURCE_DIR}/src")
target_include_directories(zydis_freestanding SYSTEM PUBLIC
  "${BOXY_ZYDIS_SOURCE_DIR}/include" "${zycore_only}")
