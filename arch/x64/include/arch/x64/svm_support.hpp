// SPDX-License-Identifier: MIT
//
// Whether this CPU can run Boxy's AMD-V backend. Shared by the loader (to
// boot without Boxy and say why) and the VMM (to refuse cleanly).
#pragma once

#include <string_view>

namespace boxy::x64 {

// Empty if the CPU has what the SVM backend needs, else the missing feature
// with the CPUID or MSR bit that says so.
[[nodiscard]] std::string_view missing_svm_feature();
[[nodiscard]] std::string_view missing_vmx_feature();
// The check for this CPU's vendor: VMX on Intel, SVM otherwise.
[[nodiscard]] std::string_view missing_virtualization_feature();

}  // namespace boxy::x64
