// SPDX-License-Identifier: MIT
//
// Model-specific register numbers and bits Boxy uses (SDM Vol. 4; APM Vol. 2,
// 15.30 "SVM Related MSRs").
#pragma once

#include <cstdint>

namespace boxy::x64::msr {

inline constexpr std::uint32_t kApicBase = 0x1B;        // IA32_APIC_BASE
inline constexpr std::uint32_t kFeatureControl = 0x3A;  // IA32_FEATURE_CONTROL
inline constexpr std::uint32_t kPat = 0x277;            // IA32_PAT
inline constexpr std::uint32_t kEfer = 0xC0000080;
inline constexpr std::uint32_t kStar = 0xC0000081;
inline constexpr std::uint32_t kLstar = 0xC0000082;
inline constexpr std::uint32_t kCstar = 0xC0000083;
inline constexpr std::uint32_t kSfmask = 0xC0000084;
inline constexpr std::uint32_t kFsBase = 0xC0000100;
inline constexpr std::uint32_t kGsBase = 0xC0000101;
inline constexpr std::uint32_t kKernelGsBase = 0xC0000102;
inline constexpr std::uint32_t kSysenterCs = 0x174;
inline constexpr std::uint32_t kSysenterEsp = 0x175;
inline constexpr std::uint32_t kSysenterEip = 0x176;
inline constexpr std::uint32_t kVmCr = 0xC0010114;       // APM 15.30.1
inline constexpr std::uint32_t kVmHsavePa = 0xC0010117;  // APM 15.30.4

// EFER bits (APM Vol. 2, 3.1.7).
inline constexpr std::uint64_t kEferSce = 1ULL << 0;
inline constexpr std::uint64_t kEferLme = 1ULL << 8;
inline constexpr std::uint64_t kEferLma = 1ULL << 10;
inline constexpr std::uint64_t kEferNxe = 1ULL << 11;
inline constexpr std::uint64_t kEferSvme = 1ULL << 12;

// VM_CR bits (APM Vol. 2, 15.30.1).
inline constexpr std::uint64_t kVmCrLock = 1ULL << 3;
inline constexpr std::uint64_t kVmCrSvmDis = 1ULL << 4;

}  // namespace boxy::x64::msr
