// SPDX-License-Identifier: MIT
#include "vm/service_cpuid.hpp"

#include <boxy/abi.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <string>

using namespace boxy::vmm;

namespace {

// A host that claims every feature bit, so that the policy's masks show.
CpuidResult everything(std::uint32_t leaf, std::uint32_t /*subleaf*/)
{
    if (leaf == 0) {
        return {0x16, 0x68747541, 0x444D4163, 0x69746E65};  // "AuthenticAMD", leaves to 0x16
    }
    if (leaf == 0x80000000) {
        return {0x80000021, 0, 0, 0};
    }
    return {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF};
}

constexpr std::uint32_t bit(unsigned n)
{
    return 1U << n;
}

}  // namespace

TEST_CASE("service CPUID: x2APIC, TSC deadline, hypervisor; no XSAVE, VMX, MONITOR")
{
    const ServiceCpuidContext ctx{1, 2, everything};
    const auto l1 = service_cpuid(1, 0, ctx);
    CHECK((l1.ecx & bit(21)) != 0);
    CHECK((l1.ecx & bit(24)) != 0);
    CHECK((l1.ecx & bit(31)) != 0);
    CHECK((l1.ecx & (bit(26) | bit(27) | bit(28))) == 0);  // XSAVE, OSXSAVE, AVX
    CHECK((l1.ecx & (bit(3) | bit(5))) == 0);              // MONITOR, VMX
    CHECK((l1.edx & (bit(7) | bit(12) | bit(14))) == 0);   // MCE, MTRR, MCA
    CHECK((l1.ebx >> 24) == 1);                            // initial APIC ID = vCPU index
    CHECK(((l1.ebx >> 16) & 0xFF) == 2);                   // logical processors
    CHECK((l1.edx & bit(28)) != 0);                        // HTT: more than one
    CHECK((service_cpuid(1, 0, {0, 1, everything}).edx & bit(28)) == 0);
}

TEST_CASE("service CPUID: leaf 7 is a whitelist, XSAVE leaf and PMU are empty")
{
    const ServiceCpuidContext ctx{0, 1, everything};
    const auto l7 = service_cpuid(7, 0, ctx);
    CHECK((l7.ebx & bit(5)) == 0);   // AVX2
    CHECK((l7.ebx & bit(16)) == 0);  // AVX-512F
    CHECK((l7.ebx & bit(7)) != 0);   // SMEP kept
    CHECK((l7.ecx & bit(3)) == 0);   // PKU
    CHECK((l7.ecx & bit(16)) == 0);  // LA57
    CHECK((l7.ecx & bit(22)) == 0);  // RDPID
    CHECK(service_cpuid(7, 1, ctx).eax == 0);
    CHECK(service_cpuid(0xD, 0, ctx).eax == 0);
    CHECK(service_cpuid(0xA, 0, ctx).eax == 0);
    CHECK(service_cpuid(0, 0, ctx).eax == 0xD);  // highest basic leaf clamped
    CHECK(service_cpuid(0x10, 0, ctx).eax == 0);
}

TEST_CASE("service CPUID: no SVM, no RDTSCP, topology of the VM")
{
    const ServiceCpuidContext ctx{0, 4, everything};
    const auto e1 = service_cpuid(0x80000001, 0, ctx);
    CHECK((e1.ecx & bit(2)) == 0);   // SVM
    CHECK((e1.edx & bit(27)) == 0);  // RDTSCP
    CHECK((e1.edx & bit(29)) != 0);  // long mode kept
    CHECK(service_cpuid(0x8000000A, 0, ctx).edx == 0);
    CHECK(service_cpuid(0x80000000, 0, ctx).eax == 0x80000008);
    CHECK((service_cpuid(0x80000008, 0, ctx).ecx & 0xFF) == 3);
    CHECK(service_cpuid(0x8000001E, 0, ctx).eax == 0);
}

TEST_CASE("service CPUID: KVM's signature without features, Boxy's at 0x40000100")
{
    const ServiceCpuidContext ctx{0, 1, everything};
    const auto kvm = service_cpuid(0x40000000, 0, ctx);
    char name[13] = {};
    std::memcpy(name, &kvm.ebx, 4);
    std::memcpy(name + 4, &kvm.ecx, 4);
    std::memcpy(name + 8, &kvm.edx, 4);
    CHECK(std::string(name, 12) == std::string("KVMKVMKVM\0\0\0", 12));
    CHECK(kvm.eax == 0x40000001);
    const auto features = service_cpuid(0x40000001, 0, ctx);
    CHECK((features.eax | features.ebx | features.ecx | features.edx) == 0);
    const auto boxy = service_cpuid(0x40000100, 0, ctx);
    CHECK(boxy.ebx == BOXY_CPUID_SIGNATURE_EBX);
    CHECK(service_cpuid(0x40000101, 0, ctx).eax == BOXY_ABI_VERSION);
    CHECK(service_cpuid(0x40000200, 0, ctx).eax == 0);
}
