// SPDX-License-Identifier: MIT
#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>
#include <arch/x64/virtualization_support.hpp>

namespace boxy::x64 {

namespace {

// CPUID leaf 0's vendor string in EBX, EDX, ECX.
bool vendor_is(std::uint32_t ebx, std::uint32_t edx, std::uint32_t ecx)
{
    const auto vendor = cpuid(0);
    return vendor.ebx == ebx && vendor.edx == edx && vendor.ecx == ecx;
}

bool is_amd()
{
    return vendor_is(0x68747541, 0x69746E65, 0x444D4163);  // "AuthenticAMD"
}

}  // namespace

bool is_intel_cpu()
{
    return vendor_is(0x756E6547, 0x49656E69, 0x6C65746E);  // "GenuineIntel"
}

std::string_view missing_virtualization_feature()
{
    if (is_intel_cpu()) {
        return missing_vmx_feature();
    }
    return missing_svm_feature();
}

std::string_view missing_vmx_feature()
{
    if (!is_intel_cpu()) {
        return "not an Intel CPU (CPUID vendor is not GenuineIntel)";
    }
    if ((cpuid(1).ecx & (1U << 5)) == 0) {
        return "no VMX (CPUID.1:ECX[5] clear)";
    }
    // IA32_FEATURE_CONTROL exists with VMX (SDM Vol. 3C, 24.7): locked
    // without "VMX outside SMX" means the firmware turned VT-x off. The VMM
    // checks the VMX capability MSRs itself (arch/x64/vmx).
    constexpr std::uint64_t kLock = 1U << 0;
    constexpr std::uint64_t kVmxOutsideSmx = 1U << 2;
    const std::uint64_t control = rdmsr(msr::kFeatureControl);
    if ((control & kLock) != 0 && (control & kVmxOutsideSmx) == 0) {
        return "VMX disabled by the firmware (IA32_FEATURE_CONTROL locked; enable VT-x in the "
               "setup menu)";
    }
    return {};
}

std::string_view missing_svm_feature()
{
    if (!is_amd()) {
        return "not an AMD CPU (CPUID vendor is not AuthenticAMD)";
    }
    if ((cpuid(0x80000001).ecx & (1U << 2)) == 0) {
        return "no SVM (CPUID Fn8000_0001 ECX[2] clear)";
    }
    // VM_CR exists on every CPU with SVM (APM Vol. 2, 15.30.1).
    if ((rdmsr(msr::kVmCr) & msr::kVmCrSvmDis) != 0) {
        return "SVM disabled by the firmware (VM_CR.SVMDIS set; enable SVM/AMD-V in the setup "
               "menu)";
    }
    if ((cpuid(0x8000000A).edx & 1U) == 0) {
        return "no nested paging (CPUID Fn8000_000A EDX[0] clear)";
    }
    return {};
}

}  // namespace boxy::x64
