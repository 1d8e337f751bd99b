// SPDX-License-Identifier: MIT
//
// The VMM's global state: set up once by vmm_init() on the bootstrap
// processor before any CPU is virtualized, read-only afterwards except for
// per-CPU parts, which only their own CPU writes.
#pragma once

#include "memory/nested_paging.hpp"
#include "memory/npt_entry.hpp"
#include "memory/page_allocator.hpp"
#include "per_cpu.hpp"

#include <boxy/boot_protocol.hpp>

namespace boxy::vmm {

struct VmmState {
    BootInfo boot{};
    PageAllocator pool;
    NestedPageTable<NptEntry> host_npt;        // the host VM's nested page tables
    NestedPageTable<NptEntry> vmm_page_table;  // the VMM's own CR3 (identity)
    PerCpu* cpus[kMaxCpus]{};
    std::uint32_t cpu_count{0};
    std::uint64_t msr_permission_map_pa{0};
    std::uint64_t io_permission_map_pa{0};
    bool nrip_save{false};        // CPUID Fn8000_000A EDX[3]
    bool vmcb_clean_bits{false};  // CPUID Fn8000_000A EDX[5]
    bool decode_assists{false};   // CPUID Fn8000_000A EDX[7]
    volatile std::uint32_t cpus_virtualized{0};
};

[[nodiscard]] VmmState& state();

// True if [address, address + length) overlaps the VMM's reserved region.
[[nodiscard]] bool is_vmm_memory(std::uint64_t address, std::uint64_t length);

}  // namespace boxy::vmm
