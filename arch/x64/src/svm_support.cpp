// SPDX-License-Identifier: MIT
#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>
#include <arch/x64/svm_support.hpp>

namespace boxy::x64 {

std::string_view missing_svm_feature()
{
    // "AuthenticAMD" in EBX, EDX, ECX of leaf 0.
    const auto vendor = cpuid(0);
    if (vendor.ebx != 0x68747541 || vendor.edx != 0x69746E65 || vendor.ecx != 0x444D4163) {
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
