// SPDX-License-Identifier: MIT
//
// The contract between a launcher (boxy.efi, boxy.ko) and the VMM image:
// C++ names for include/boxy/launch.h, which documents it.
#pragma once

#include <boxy/launch.h>

#include <cstdint>

namespace boxy {

using VmmImageHeader = boxy_vmm_image_header;
using BootInfo = boxy_boot_info;
using LaunchContext = boxy_launch_context;

inline constexpr std::uint32_t kVmmImageMagic = BOXY_VMM_IMAGE_MAGIC;
inline constexpr std::uint32_t kVmmImageVersion = BOXY_VMM_IMAGE_VERSION;
inline constexpr std::uint32_t kBootInfoMagic = BOXY_BOOT_INFO_MAGIC;
inline constexpr std::uint32_t kBootFlagLateLaunch = BOXY_BOOT_FLAG_LATE_LAUNCH;

// ELF64 relocation entry (System V ABI, "Relocation Entries").
struct Elf64Rela {
    std::uint64_t offset;
    std::uint64_t info;
    std::int64_t addend;
};
static_assert(sizeof(Elf64Rela) == 24);
inline constexpr std::uint32_t kRelocX86_64Relative = 8;

enum class VmmStatus : std::int32_t {
    ok = BOXY_VMM_OK,
    bad_boot_info = BOXY_VMM_BAD_BOOT_INFO,
    out_of_memory = BOXY_VMM_OUT_OF_MEMORY,
    unsupported_cpu = BOXY_VMM_UNSUPPORTED_CPU,
    bad_cpu = BOXY_VMM_BAD_CPU,
    already_running = BOXY_VMM_ALREADY_RUNNING,
};

}  // namespace boxy
