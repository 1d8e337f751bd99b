// SPDX-License-Identifier: MIT
//
// The contract between boxy.efi and the VMM image it embeds.
//
// The VMM is a position-independent flat binary (vmm/image/vmm.ld). It starts
// with VmmImageHeader; the loader copies it to the start of the reserved VMM
// region, zeroes the rest up to memory_size, applies the R_X86_64_RELATIVE
// relocations listed in the header, and then calls, with the SysV ABI:
//   vmm_init(BootInfo*)           once, on the bootstrap processor
//   vmm_start_cpu(LaunchContext*) on every CPU; returns only on failure
// Both run at the physical addresses they were loaded to (firmware page tables
// identity-map memory); vmm_start_cpu switches to the VMM's own page tables.
#pragma once

#include <cstdint>

namespace boxy {

inline constexpr std::uint32_t kVmmImageMagic = 0x59584F42;  // "BOXY"
inline constexpr std::uint32_t kVmmImageVersion = 1;
inline constexpr std::uint32_t kBootInfoMagic = 0x49544F42;  // "BOTI"

struct VmmImageHeader {
    std::uint32_t magic;
    std::uint32_t version;
    std::uint64_t file_size;         // bytes present in the flat binary
    std::uint64_t memory_size;       // bytes the image occupies once loaded (with .bss)
    std::uint64_t init_offset;       // vmm_init
    std::uint64_t start_cpu_offset;  // vmm_start_cpu
    std::uint64_t rela_offset;       // Elf64_Rela[] of R_X86_64_RELATIVE entries
    std::uint64_t rela_size;         // bytes
};
static_assert(sizeof(VmmImageHeader) == 56);

// ELF64 relocation entry (System V ABI, "Relocation Entries").
struct Elf64Rela {
    std::uint64_t offset;
    std::uint64_t info;
    std::int64_t addend;
};
static_assert(sizeof(Elf64Rela) == 24);
inline constexpr std::uint32_t kRelocX86_64Relative = 8;

enum class VmmStatus : std::int32_t {
    ok = 0,
    bad_boot_info = 1,
    out_of_memory = 2,
    no_svm = 3,
    bad_cpu = 4,
    already_running = 5,
};

struct BootInfo {
    std::uint32_t magic;
    std::uint32_t cpu_count;  // CPUs the loader will start (MP services)
    std::uint64_t vmm_base;   // physical base of the reserved VMM region
    std::uint64_t vmm_size;   // bytes, image included
    std::uint64_t phys_top;   // end of what the host VM's nested tables cover
    std::uint32_t log_level;  // 0 errors .. 3 debug
    std::uint32_t reserved;
};

// Per-CPU: where the CPU continues as the host VM once virtualized.
struct LaunchContext {
    std::uint64_t guest_rip;
    std::uint64_t guest_rsp;
    std::uint32_t cpu_index;
    std::uint32_t reserved;
};

}  // namespace boxy
