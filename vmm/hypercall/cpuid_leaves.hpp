// SPDX-License-Identifier: MIT
//
// Boxy's CPUID leaves in the hypervisor range (include/boxy/abi.h), for the
// CPUID exit handler: how a VM recognises Boxy before making a hypercall.
#pragma once

#include <cstdint>

namespace boxy::vmm::hypercall {

struct CpuidRegisters {
    std::uint32_t eax;
    std::uint32_t ebx;
    std::uint32_t ecx;
    std::uint32_t edx;
};

// Leaves 0x40000000..0x400000FF are Boxy's: fills `out` and returns true
// (leaves above BOXY_CPUID_MAX_LEAF read as zero). Any other leaf returns
// false and leaves `out` alone: it is not Boxy's to answer.
[[nodiscard]] bool boxy_cpuid_leaf(std::uint32_t leaf, CpuidRegisters& out);

}  // namespace boxy::vmm::hypercall
