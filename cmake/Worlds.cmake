# SPDX-License-Identifier: MIT
#
# Compiler settings of the three build worlds, as interface targets that a
# target links to pick its world.

set(BOXY_INCLUDE_DIRS "${CMAKE_SOURCE_DIR}/include" "${CMAKE_BINARY_DIR}/generated")

set(BOXY_WARNINGS -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion)
set(BOXY_CXX_WARNINGS -Wold-style-cast -Wnon-virtual-dtor)

# Freestanding: the VMM and everything it links. No libc, no C++ runtime
# (exceptions, RTTI, thread-safe statics), no red zone (interrupts and VM
# exits may land on the stack), no SSE/AVX (guest FPU state is not ours).
# Position independent with hidden visibility and no STB_GNU_UNIQUE: the VMM
# and boxy.efi are relocated at load time by code that applies only
# R_X86_64_RELATIVE (cmake/check-relative-relocs.sh checks the links).
add_library(boxy_world_freestanding INTERFACE)
target_compile_options(boxy_world_freestanding INTERFACE
  -ffreestanding -fno-stack-protector -mno-red-zone -mgeneral-regs-only
  -fno-asynchronous-unwind-tables -fno-common -fPIC -fvisibility=hidden
  $<$<COMPILE_LANGUAGE:CXX>:-fno-gnu-unique>
  $<$<COMPILE_LANGUAGE:CXX>:-fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit>
  ${BOXY_WARNINGS} $<$<COMPILE_LANGUAGE:CXX>:${BOXY_CXX_WARNINGS}>)
target_include_directories(boxy_world_freestanding INTERFACE ${BOXY_INCLUDE_DIRS})

# EFI: the freestanding rules plus gnu-efi's ABI: position independent (the
# firmware relocates the PE image), 16-bit wchar_t for CHAR16, and the
# Microsoft calling convention for firmware calls.
add_library(boxy_world_efi INTERFACE)
target_link_libraries(boxy_world_efi INTERFACE boxy_world_freestanding)
target_compile_options(boxy_world_efi INTERFACE -fshort-wchar -maccumulate-outgoing-args)
target_compile_definitions(boxy_world_efi INTERFACE GNU_EFI_USE_MS_ABI)
target_include_directories(boxy_world_efi SYSTEM INTERFACE /usr/include/efi /usr/include/efi/x86_64)

# Host: Linux userspace. Tests get ASan+UBSan (BOXY_SANITIZE).
add_library(boxy_world_host INTERFACE)
target_compile_options(boxy_world_host INTERFACE
  ${BOXY_WARNINGS} $<$<COMPILE_LANGUAGE:CXX>:${BOXY_CXX_WARNINGS}>)
target_include_directories(boxy_world_host INTERFACE ${BOXY_INCLUDE_DIRS})
if(BOXY_SANITIZE)
  set(boxy_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(boxy_world_host INTERFACE ${boxy_sanitizers})
  target_link_options(boxy_world_host INTERFACE ${boxy_sanitizers})
endif()

# boxy_add_logic_library(NAME WORLDS <host|efi|freestanding>... SOURCES ...
#                        [INCLUDES dir...] [LINK target...])
# Pure-logic code (parsers, page-table builders, allocators) is compiled once
# per world it serves, as NAME_<world>, so that the very code the firmware or
# the VMM runs is what the host-world unit tests and fuzzers exercise.
function(boxy_add_logic_library name)
  cmake_parse_arguments(arg "" "" "WORLDS;SOURCES;INCLUDES;LINK" ${ARGN})
  foreach(world IN LISTS arg_WORLDS)
    set(target ${name}_${world})
    add_library(${target} STATIC ${arg_SOURCES})
    # The world's flags stay PRIVATE: a host test may link a freestanding
    # library without inheriting -ffreestanding or -mgeneral-regs-only.
    target_link_libraries(${target} PRIVATE boxy_world_${world})
    foreach(dep IN LISTS arg_LINK)
      target_link_libraries(${target} PUBLIC ${dep}_${world})
    endforeach()
    target_include_directories(${target} PUBLIC ${BOXY_INCLUDE_DIRS} ${arg_INCLUDES})
  endforeach()
endfunction()
