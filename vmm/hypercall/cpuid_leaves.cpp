// SPDX-License-Identifier: MIT
#include "cpuid_leaves.hpp"

#include "hypercall.hpp"

#include <boxy/abi.h>

namespace boxy::vmm::hypercall {
namespace {

// Intel reserves CPUID 0x40000000-0x4FFFFFFF and AMD 0x40000000-0x4000FFFF
// for hypervisors (SDM Vol. 2A, CPUID; APM Vol. 3, Appendix E). Boxy answers
// the first 256, the block hypervisors conventionally claim as their own.
constexpr std::uint32_t kHypervisorRangeFirst = 0x40000000;
constexpr std::uint32_t kHypervisorRangeLast = 0x400000FF;

}  // namespace

bool boxy_cpuid_leaf(std::uint32_t leaf, CpuidRegisters& out)
{
    if (leaf < kHypervisorRangeFirst || leaf > kHypervisorRangeLast) {
        return false;
    }
    switch (leaf) {
        case BOXY_CPUID_LEAF_IDENTITY:
            out = {BOXY_CPUID_MAX_LEAF, BOXY_CPUID_SIGNATURE_EBX, BOXY_CPUID_SIGNATURE_ECX,
                   BOXY_CPUID_SIGNATURE_EDX};
            break;
        case BOXY_CPUID_LEAF_VERSION:
            out = {BOXY_ABI_VERSION, static_cast<std::uint32_t>(kFeatures),
                   static_cast<std::uint32_t>(kFeatures >> 32), 0};
            break;
        default: out = {0, 0, 0, 0}; break;
    }
    return true;
}

}  // namespace boxy::vmm::hypercall
