// SPDX-License-Identifier: MIT
//
// Whether this CPU can run one of Boxy's backends (AMD-V, VT-x): shared by
// the loader (to boot without Boxy and say why) and the VMM (to pick its
// backend and refuse cleanly).
#pragma once

#include <string_view>

namespace boxy::x64 {

// Empty if the CPU has what the SVM backend needs, else the missing feature
// with the CPUID or MSR bit that says so.
[[nodiscard]] std::string_view missing_svm_feature();
[[nodiscard]] std::string_view missing_vmx_feature();
// CPUID leaf 0 says "GenuineIntel": the VT-x backend's CPU.
[[nodiscard]] bool is_intel_cpu();
// The check for this CPU's vendor: VMX on Intel, SVM otherwise.
[[nodiscard]] std::string_view missing_virtualization_feature();

}  // namespace boxy::x64
