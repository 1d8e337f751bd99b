// SPDX-License-Identifier: MIT
//
// The AMD-V backend (vmm/core/backend.hpp): turns a CPU's running state into
// a guest (the host VM) and runs it, translating #VMEXITs into the core's
// neutral ExitInfo and the core's ExitAction back into the VMCB. No policy
// lives here. svm_setup.cpp enables SVM and fills the VMCB; svm.cpp runs it
// and leaves it.
#pragma once

#include "core/per_cpu.hpp"
#include "memory/nested_paging.hpp"
#include "memory/npt_entry.hpp"
#include "vmcb.hpp"

#include <boxy/boot_protocol.hpp>

#include <cstdint>

namespace boxy::svm {

// Shared by every CPU; written once by init().
struct SvmState {
    vmm::NestedPageTable<vmm::NptEntry> host_npt;  // the host VM's nested page tables
    std::uint64_t msr_permission_map_pa{0};
    std::uint64_t io_permission_map_pa{0};
    bool nrip_save{false};        // CPUID Fn8000_000A EDX[3]
    bool vmcb_clean_bits{false};  // CPUID Fn8000_000A EDX[5]
    bool decode_assists{false};   // CPUID Fn8000_000A EDX[7]
};

[[nodiscard]] SvmState& svm_state();

// The VMM runs identity-mapped: a physical address is its own pointer.
[[nodiscard]] inline Vmcb& vmcb_of(const vmm::PerCpu& cpu)
{
    return *reinterpret_cast<Vmcb*>(cpu.vmcb_pa);
}

// The idle instructions intercepted while a CPU may wait to be started.
inline constexpr std::uint32_t kIdleMisc2 = misc2::kMwait | misc2::kMwaitConditional;

[[nodiscard]] VmmStatus prepare_cpu(vmm::PerCpu& cpu, const LaunchContext& ctx,
                                    std::uint64_t rflags);
[[noreturn]] void run(vmm::PerCpu& cpu);

}  // namespace boxy::svm
