// SPDX-License-Identifier: MIT
//
// The VMM's global state: set up once by vmm_init() on the bootstrap
// processor before any CPU is virtualized, read-only afterwards except for
// per-CPU parts, which only their own CPU writes. Backend-specific state
// (nested page tables, permission bitmaps) lives in the backend.
#pragma once

#include "backend.hpp"
#include "memory/nested_paging.hpp"
#include "memory/npt_entry.hpp"
#include "memory/page_allocator.hpp"
#include "per_cpu.hpp"

#include <boxy/boot_protocol.hpp>

namespace boxy::vmm {

struct VmmState {
    BootInfo boot{};
    const Backend* backend{nullptr};
    PageAllocator pool;
    // The VMM's own CR3: an identity map in the ordinary x86-64 4-level
    // format, which is also AMD's nested format (APM Vol. 2, 15.25.5).
    NestedPageTable<NptEntry> vmm_page_table;
    PerCpu* cpus[kMaxCpus]{};
    std::uint32_t cpu_count{0};
    volatile std::uint32_t cpus_virtualized{0};
};

[[nodiscard]] VmmState& state();

// True if [address, address + length) overlaps the VMM's reserved region.
[[nodiscard]] bool is_vmm_memory(std::uint64_t address, std::uint64_t length);

// BootInfo said kBootFlagLateLaunch: CPUs may leave (BOXY_CALL_STOP_CPU).
[[nodiscard]] bool late_launched();

// The calling CPU no longer runs under the VMM (it left, or never started).
void mark_left(PerCpu& cpu);

}  // namespace boxy::vmm
