// SPDX-License-Identifier: MIT
#include "vm/service_cpuid.hpp"

#include <boxy/abi.h>

namespace boxy::vmm {
namespace {

constexpr std::uint32_t bit(unsigned n)
{
    return std::uint32_t{1} << n;
}

// Leaf 1 (SDM Vol. 2A, CPUID, Tables 3-10 and 3-11).
constexpr std::uint32_t kLeaf1EcxHidden =
    bit(2) |   // DTES64: debug store, no virtual DS area
    bit(3) |   // MONITOR/MWAIT: intercepted, and would idle the physical CPU
    bit(4) |   // DS-CPL
    bit(5) |   // VMX
    bit(6) |   // SMX
    bit(7) |   // EIST: no power management MSRs
    bit(8) |   // TM2
    bit(11) |  // SDBG: IA32_DEBUG_INTERFACE
    bit(12) |  // FMA: VEX, needs AVX state
    bit(14) |  // xTPR update control
    bit(15) |  // PDCM: IA32_PERF_CAPABILITIES
    bit(18) |  // DCA
    bit(26) |  // XSAVE: XCR0 is not switched between host and VM
    bit(27) |  // OSXSAVE
    bit(28) |  // AVX
    bit(29);   // F16C: VEX
constexpr std::uint32_t kLeaf1EcxAdded = bit(21) |   // x2APIC: the VMM's local APIC
                                         bit(24) |   // TSC-deadline timer
                                         bit(31);    // hypervisor present
constexpr std::uint32_t kLeaf1EdxHidden = bit(7) |   // MCE: no machine-check MSRs
                                          bit(12) |  // MTRR: guest memory types come from PAT
                                          bit(14) |  // MCA
                                          bit(21) |  // DS
                                          bit(22) |  // ACPI thermal MSRs
                                          bit(28) |  // HTT: set below for SMP VMs
                                          bit(29) |  // TM
                                          bit(31);   // PBE

// Leaf 7.0: a whitelist; everything newer is hidden until reviewed.
constexpr std::uint32_t kLeaf7EbxKept = bit(0) |   // FSGSBASE (bases are in the VMCB)
                                        bit(3) |   // BMI1
                                        bit(7) |   // SMEP
                                        bit(8) |   // BMI2
                                        bit(9) |   // ERMS
                                        bit(10) |  // INVPCID
                                        bit(18) |  // RDSEED
                                        bit(19) |  // ADX
                                        bit(20) |  // SMAP
                                        bit(23) |  // CLFLUSHOPT
                                        bit(24) |  // CLWB
                                        bit(29);   // SHA
constexpr std::uint32_t kLeaf7EcxKept = bit(2);    // UMIP
constexpr std::uint32_t kLeaf7EdxKept = bit(4);    // fast short REP MOVSB

// Leaf 0x80000001 (APM Vol. 3, E.4.2).
constexpr std::uint32_t kExt1EcxKept = bit(0) |    // LAHF/SAHF in long mode
                                       bit(5) |    // LZCNT
                                       bit(6) |    // SSE4A
                                       bit(7) |    // misaligned SSE
                                       bit(8);     // PREFETCHW
constexpr std::uint32_t kExt1EdxHidden = bit(27);  // RDTSCP: IA32_TSC_AUX is the host's

constexpr std::uint32_t kHighestBasicLeaf = 0xD;
constexpr std::uint32_t kHighestExtendedLeaf = 0x80000008;

// "KVMKVMKVM\0\0\0" and "BoxyBoxyBoxy", four ASCII bytes per register.
constexpr std::uint32_t kKvmEbx = 0x4B4D564B;  // "KVMK"
constexpr std::uint32_t kKvmEcx = 0x564B4D56;  // "VMKV"
constexpr std::uint32_t kKvmEdx = 0x0000004D;  // "M\0\0\0"

CpuidResult basic_leaf(std::uint32_t leaf, std::uint32_t subleaf, const ServiceCpuidContext& ctx)
{
    CpuidResult r = ctx.host(leaf, subleaf);
    switch (leaf) {
        case 0: r.eax = r.eax < kHighestBasicLeaf ? r.eax : kHighestBasicLeaf; return r;
        case 1: {
            r.ecx = (r.ecx & ~kLeaf1EcxHidden) | kLeaf1EcxAdded;
            r.edx &= ~kLeaf1EdxHidden;
            if (ctx.vcpu_count > 1) {
                r.edx |= bit(28);
            }
            // EBX[31:24] initial APIC ID, [23:16] logical processors.
            const std::uint32_t count = ctx.vcpu_count > 255 ? 255 : ctx.vcpu_count;
            r.ebx = (r.ebx & 0xFFFF) | (count << 16) | ((ctx.vcpu_index & 0xFF) << 24);
            return r;
        }
        case 2:
        case 4: return r;  // cache descriptors: harmless facts about the host
        case 7:
            if (subleaf != 0) {
                return {};
            }
            return {0, r.ebx & kLeaf7EbxKept, r.ecx & kLeaf7EcxKept, r.edx & kLeaf7EdxKept};
        default: return {};  // power, PMU, topology, XSAVE, RDT, SGX, PT...
    }
}

CpuidResult extended_leaf(std::uint32_t leaf, const ServiceCpuidContext& ctx)
{
    CpuidResult r = ctx.host(leaf, 0);
    switch (leaf) {
        case 0x80000000:
            r.eax = r.eax < kHighestExtendedLeaf ? r.eax : kHighestExtendedLeaf;
            return r;
        case 0x80000001: return {r.eax, 0, r.ecx & kExt1EcxKept, r.edx & ~kExt1EdxHidden};
        case 0x80000002:
        case 0x80000003:
        case 0x80000004:  // brand string
        case 0x80000005:
        case 0x80000006: return r;                          // caches and TLBs
        case 0x80000007: return {0, 0, 0, r.edx & bit(8)};  // invariant TSC only
        case 0x80000008: {
            // EAX address sizes as the host's; ECX[7:0] cores - 1, the VM's
            // vCPUs as one package (APM Vol. 3, E.4.7).
            const std::uint32_t cores = ctx.vcpu_count == 0 ? 0 : ctx.vcpu_count - 1;
            return {r.eax & 0xFFFF, 0, cores & 0xFF, 0};
        }
        default: return {};
    }
}

}  // namespace

CpuidResult service_cpuid(std::uint32_t leaf, std::uint32_t subleaf, const ServiceCpuidContext& ctx)
{
    if (leaf < 0x40000000) {
        const std::uint32_t highest = ctx.host(0, 0).eax;
        const std::uint32_t top = highest < kHighestBasicLeaf ? highest : kHighestBasicLeaf;
        // Above the highest basic leaf Intel CPUs answer with the highest
        // one (SDM Vol. 2A, CPUID); a service VM gets zeros instead.
        return leaf <= top ? basic_leaf(leaf, subleaf, ctx) : CpuidResult{};
    }
    switch (leaf) {
        case kServiceKvmLeaf: return {kServiceKvmLeaf + 1, kKvmEbx, kKvmEcx, kKvmEdx};
        case kServiceKvmLeaf + 1: return {};  // no KVM paravirtual features
        case kServiceBoxyLeaf:
            return {kServiceBoxyLeaf + 1, BOXY_CPUID_SIGNATURE_EBX, BOXY_CPUID_SIGNATURE_ECX,
                    BOXY_CPUID_SIGNATURE_EDX};
        case kServiceBoxyLeaf + 1: return {BOXY_ABI_VERSION, 0, 0, 0};
        default: break;
    }
    if (leaf >= 0x80000000 && leaf <= kHighestExtendedLeaf) {
        const std::uint32_t highest = ctx.host(0x80000000, 0).eax;
        return leaf <= highest ? extended_leaf(leaf, ctx) : CpuidResult{};
    }
    return {};
}

}  // namespace boxy::vmm
