// SPDX-License-Identifier: MIT
//
// VMCS field encodings (Intel SDM Vol. 3D, Appendix B "Field Encoding in
// VMCS"), as typed constants: a field's C++ type says how wide it is, so a
// VMREAD/VMWRITE (vmcs.hpp) of the wrong width does not compile.
//
// An encoding is a 32-bit word (SDM Vol. 3C, 25.11.2 "VMREAD, VMWRITE, and
// Encodings of VMCS Fields"):
//   bit 0      access type: 0 full, 1 high half of a 64-bit field
//   bits 9:1   index
//   bits 11:10 type: 0 control, 1 VM-exit information (read-only),
//              2 guest state, 3 host state
//   bit 12     reserved (0)
//   bits 14:13 width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural width
//   bits 31:15 reserved (0)
// VMREAD/VMWRITE with a reserved bit set, or an encoding the CPU does not
// support, fail with VMfailValid (SDM Vol. 3C, 31.3 VMREAD/VMWRITE).
//
// Section numbers throughout arch/x64/vmx are those of the 2023 editions of
// the SDM (VMCS chapter 25, VM exits 28, EPT 29, as vmm/memory/ept_entry.hpp);
// editions before 2023 number these chapters one lower, and titles are
// quoted where a number alone would be ambiguous.
#pragma once

#include <concepts>
#include <cstdint>

namespace boxy::vmx {

enum class VmcsWidth : std::uint8_t { bits16 = 0, bits64 = 1, bits32 = 2, natural = 3 };

// Natural-width fields hold 64 bits on a CPU with Intel 64 (SDM Vol. 3C,
// 25.11.2). They get their own tag type so that a natural-width field and a
// 64-bit field cannot be mixed up: the value read or written is still a
// std::uint64_t (VmcsField<NaturalWidth>::Value).
struct NaturalWidth {};

template <class T>
struct VmcsFieldTraits;
template <>
struct VmcsFieldTraits<std::uint16_t> {
    static constexpr VmcsWidth kWidth = VmcsWidth::bits16;
    using Value = std::uint16_t;
};
template <>
struct VmcsFieldTraits<std::uint32_t> {
    static constexpr VmcsWidth kWidth = VmcsWidth::bits32;
    using Value = std::uint32_t;
};
template <>
struct VmcsFieldTraits<std::uint64_t> {
    static constexpr VmcsWidth kWidth = VmcsWidth::bits64;
    using Value = std::uint64_t;
};
template <>
struct VmcsFieldTraits<NaturalWidth> {
    static constexpr VmcsWidth kWidth = VmcsWidth::natural;
    using Value = std::uint64_t;
};

[[nodiscard]] constexpr VmcsWidth width_of(std::uint32_t encoding)
{
    return static_cast<VmcsWidth>((encoding >> 13) & 3);
}

// True if `encoding` is a full-field encoding (not the high half of a
// 64-bit field, no reserved bit set) whose width bits match T.
template <class T>
[[nodiscard]] constexpr bool encoding_matches(std::uint32_t encoding)
{
    constexpr std::uint32_t kReserved = 0xFFFF'8000 | (1U << 12);
    constexpr std::uint32_t kHighAccess = 1U << 0;
    return (encoding & (kReserved | kHighAccess)) == 0 &&
           width_of(encoding) == VmcsFieldTraits<T>::kWidth;
}

// Never defined: a call to it in the consteval constructor below makes a
// mismatching field a compile error that names the problem.
void vmcs_field_encoding_does_not_match_its_type();

template <class T>
struct VmcsField {
    using Value = typename VmcsFieldTraits<T>::Value;

    consteval explicit VmcsField(std::uint32_t field_encoding) : encoding{field_encoding}
    {
        if (!encoding_matches<T>(field_encoding)) {
            vmcs_field_encoding_does_not_match_its_type();
        }
    }

    std::uint32_t encoding;
};

// A value V may be written to a field of type T if it is an unsigned
// integer no wider than the field: a 16-bit selector fits a 32-bit field,
// but a 32-bit value never silently loses its upper half in a 16-bit one.
template <class V, class T>
concept VmcsValueFor = std::unsigned_integral<V> && !std::same_as<V, bool> &&
                       sizeof(V) <= sizeof(typename VmcsField<T>::Value);

using Field16 = VmcsField<std::uint16_t>;
using Field32 = VmcsField<std::uint32_t>;
using Field64 = VmcsField<std::uint64_t>;
using FieldNatural = VmcsField<NaturalWidth>;

// 16-bit control fields (B.1.1).
inline constexpr Field16 kVirtualProcessorId{0x0000};

// 16-bit guest-state fields (B.1.2).
inline constexpr Field16 kGuestEsSelector{0x0800};
inline constexpr Field16 kGuestCsSelector{0x0802};
inline constexpr Field16 kGuestSsSelector{0x0804};
inline constexpr Field16 kGuestDsSelector{0x0806};
inline constexpr Field16 kGuestFsSelector{0x0808};
inline constexpr Field16 kGuestGsSelector{0x080A};
inline constexpr Field16 kGuestLdtrSelector{0x080C};
inline constexpr Field16 kGuestTrSelector{0x080E};

// 16-bit host-state fields (B.1.3). The host has no LDTR field: VM exits
// leave LDTR unusable (SDM Vol. 3C, 28.5.2).
inline constexpr Field16 kHostEsSelector{0x0C00};
inline constexpr Field16 kHostCsSelector{0x0C02};
inline constexpr Field16 kHostSsSelector{0x0C04};
inline constexpr Field16 kHostDsSelector{0x0C06};
inline constexpr Field16 kHostFsSelector{0x0C08};
inline constexpr Field16 kHostGsSelector{0x0C0A};
inline constexpr Field16 kHostTrSelector{0x0C0C};

// 64-bit control fields (B.2.1): physical addresses of the bitmaps and MSR
// lists, the TSC offset and the EPT pointer (vmm/memory/ept_entry.hpp,
// ept_pointer()).
inline constexpr Field64 kIoBitmapA{0x2000};
inline constexpr Field64 kIoBitmapB{0x2002};
inline constexpr Field64 kMsrBitmap{0x2004};
inline constexpr Field64 kExitMsrStoreAddress{0x2006};
inline constexpr Field64 kExitMsrLoadAddress{0x2008};
inline constexpr Field64 kEntryMsrLoadAddress{0x200A};
inline constexpr Field64 kTscOffset{0x2010};
inline constexpr Field64 kEptPointer{0x201A};

// 64-bit read-only data field (B.2.2).
inline constexpr Field64 kGuestPhysicalAddress{0x2400};

// 64-bit guest-state fields (B.2.3). Under EPT a guest with PAE paging runs
// on the PDPTEs that VM entry loads from here (SDM Vol. 3C, 27.3.2.4
// "Loading Page-Directory-Pointer-Table Entries").
inline constexpr Field64 kVmcsLinkPointer{0x2800};
inline constexpr Field64 kGuestDebugctl{0x2802};
inline constexpr Field64 kGuestPat{0x2804};
inline constexpr Field64 kGuestEfer{0x2806};
inline constexpr Field64 kGuestPdpte0{0x280A};
inline constexpr Field64 kGuestPdpte1{0x280C};
inline constexpr Field64 kGuestPdpte2{0x280E};
inline constexpr Field64 kGuestPdpte3{0x2810};

// 64-bit host-state fields (B.2.4).
inline constexpr Field64 kHostPat{0x2C00};
inline constexpr Field64 kHostEfer{0x2C02};

// 32-bit control fields (B.3.1).
inline constexpr Field32 kPinBasedControls{0x4000};
inline constexpr Field32 kPrimaryProcessorControls{0x4002};
inline constexpr Field32 kExceptionBitmap{0x4004};
inline constexpr Field32 kPageFaultErrorCodeMask{0x4006};
inline constexpr Field32 kPageFaultErrorCodeMatch{0x4008};
inline constexpr Field32 kCr3TargetCount{0x400A};
inline constexpr Field32 kExitControls{0x400C};
inline constexpr Field32 kExitMsrStoreCount{0x400E};
inline constexpr Field32 kExitMsrLoadCount{0x4010};
inline constexpr Field32 kEntryControls{0x4012};
inline constexpr Field32 kEntryMsrLoadCount{0x4014};
inline constexpr Field32 kEntryInterruptionInfo{0x4016};
inline constexpr Field32 kEntryExceptionErrorCode{0x4018};
inline constexpr Field32 kEntryInstructionLength{0x401A};
inline constexpr Field32 kTprThreshold{0x401C};
inline constexpr Field32 kSecondaryProcessorControls{0x401E};

// 32-bit read-only data fields (B.3.2).
inline constexpr Field32 kVmInstructionError{0x4400};
inline constexpr Field32 kExitReason{0x4402};
inline constexpr Field32 kExitInterruptionInfo{0x4404};
inline constexpr Field32 kExitInterruptionErrorCode{0x4406};
inline constexpr Field32 kIdtVectoringInfo{0x4408};
inline constexpr Field32 kIdtVectoringErrorCode{0x440A};
inline constexpr Field32 kExitInstructionLength{0x440C};
inline constexpr Field32 kExitInstructionInfo{0x440E};

// 32-bit guest-state fields (B.3.3).
inline constexpr Field32 kGuestEsLimit{0x4800};
inline constexpr Field32 kGuestCsLimit{0x4802};
inline constexpr Field32 kGuestSsLimit{0x4804};
inline constexpr Field32 kGuestDsLimit{0x4806};
inline constexpr Field32 kGuestFsLimit{0x4808};
inline constexpr Field32 kGuestGsLimit{0x480A};
inline constexpr Field32 kGuestLdtrLimit{0x480C};
inline constexpr Field32 kGuestTrLimit{0x480E};
inline constexpr Field32 kGuestGdtrLimit{0x4810};
inline constexpr Field32 kGuestIdtrLimit{0x4812};
inline constexpr Field32 kGuestEsAccessRights{0x4814};
inline constexpr Field32 kGuestCsAccessRights{0x4816};
inline constexpr Field32 kGuestSsAccessRights{0x4818};
inline constexpr Field32 kGuestDsAccessRights{0x481A};
inline constexpr Field32 kGuestFsAccessRights{0x481C};
inline constexpr Field32 kGuestGsAccessRights{0x481E};
inline constexpr Field32 kGuestLdtrAccessRights{0x4820};
inline constexpr Field32 kGuestTrAccessRights{0x4822};
inline constexpr Field32 kGuestInterruptibility{0x4824};
inline constexpr Field32 kGuestActivityState{0x4826};
inline constexpr Field32 kGuestSmbase{0x4828};
inline constexpr Field32 kGuestSysenterCs{0x482A};

// 32-bit host-state field (B.3.4).
inline constexpr Field32 kHostSysenterCs{0x4C00};

// Natural-width control fields (B.4.1).
inline constexpr FieldNatural kCr0GuestHostMask{0x6000};
inline constexpr FieldNatural kCr4GuestHostMask{0x6002};
inline constexpr FieldNatural kCr0ReadShadow{0x6004};
inline constexpr FieldNatural kCr4ReadShadow{0x6006};

// Natural-width read-only data fields (B.4.2).
inline constexpr FieldNatural kExitQualification{0x6400};
inline constexpr FieldNatural kGuestLinearAddress{0x640A};

// Natural-width guest-state fields (B.4.3).
inline constexpr FieldNatural kGuestCr0{0x6800};
inline constexpr FieldNatural kGuestCr3{0x6802};
inline constexpr FieldNatural kGuestCr4{0x6804};
inline constexpr FieldNatural kGuestEsBase{0x6806};
inline constexpr FieldNatural kGuestCsBase{0x6808};
inline constexpr FieldNatural kGuestSsBase{0x680A};
inline constexpr FieldNatural kGuestDsBase{0x680C};
inline constexpr FieldNatural kGuestFsBase{0x680E};
inline constexpr FieldNatural kGuestGsBase{0x6810};
inline constexpr FieldNatural kGuestLdtrBase{0x6812};
inline constexpr FieldNatural kGuestTrBase{0x6814};
inline constexpr FieldNatural kGuestGdtrBase{0x6816};
inline constexpr FieldNatural kGuestIdtrBase{0x6818};
inline constexpr FieldNatural kGuestDr7{0x681A};
inline constexpr FieldNatural kGuestRsp{0x681C};
inline constexpr FieldNatural kGuestRip{0x681E};
inline constexpr FieldNatural kGuestRflags{0x6820};
inline constexpr FieldNatural kGuestPendingDebugExceptions{0x6822};
inline constexpr FieldNatural kGuestSysenterEsp{0x6824};
inline constexpr FieldNatural kGuestSysenterEip{0x6826};

// Natural-width host-state fields (B.4.4).
inline constexpr FieldNatural kHostCr0{0x6C00};
inline constexpr FieldNatural kHostCr3{0x6C02};
inline constexpr FieldNatural kHostCr4{0x6C04};
inline constexpr FieldNatural kHostFsBase{0x6C06};
inline constexpr FieldNatural kHostGsBase{0x6C08};
inline constexpr FieldNatural kHostTrBase{0x6C0A};
inline constexpr FieldNatural kHostGdtrBase{0x6C0C};
inline constexpr FieldNatural kHostIdtrBase{0x6C0E};
inline constexpr FieldNatural kHostSysenterEsp{0x6C10};
inline constexpr FieldNatural kHostSysenterEip{0x6C12};
inline constexpr FieldNatural kHostRsp{0x6C14};
inline constexpr FieldNatural kHostRip{0x6C16};

// The four fields of one guest segment register, so the backend can load
// or dump all eight in one loop.
struct GuestSegmentFields {
    Field16 selector;
    FieldNatural base;
    Field32 limit;
    Field32 access_rights;
};

inline constexpr GuestSegmentFields kGuestEs{kGuestEsSelector, kGuestEsBase, kGuestEsLimit,
                                             kGuestEsAccessRights};
inline constexpr GuestSegmentFields kGuestCs{kGuestCsSelector, kGuestCsBase, kGuestCsLimit,
                                             kGuestCsAccessRights};
inline constexpr GuestSegmentFields kGuestSs{kGuestSsSelector, kGuestSsBase, kGuestSsLimit,
                                             kGuestSsAccessRights};
inline constexpr GuestSegmentFields kGuestDs{kGuestDsSelector, kGuestDsBase, kGuestDsLimit,
                                             kGuestDsAccessRights};
inline constexpr GuestSegmentFields kGuestFs{kGuestFsSelector, kGuestFsBase, kGuestFsLimit,
                                             kGuestFsAccessRights};
inline constexpr GuestSegmentFields kGuestGs{kGuestGsSelector, kGuestGsBase, kGuestGsLimit,
                                             kGuestGsAccessRights};
inline constexpr GuestSegmentFields kGuestLdtr{kGuestLdtrSelector, kGuestLdtrBase, kGuestLdtrLimit,
                                               kGuestLdtrAccessRights};
inline constexpr GuestSegmentFields kGuestTr{kGuestTrSelector, kGuestTrBase, kGuestTrLimit,
                                             kGuestTrAccessRights};

// Guest segment access rights (SDM Vol. 3C, 25.4.1, "Format of Access
// Rights"): descriptor bits 47:40 (type, S, DPL, P) in bits 7:0, bits
// 55:52 (AVL, L, D/B, G) in bits 15:12, and bit 16 "unusable" (a null
// selector was loaded).
inline constexpr std::uint32_t kAccessRightsDplShift = 5;
inline constexpr std::uint32_t kAccessRightsPresent = 1U << 7;
inline constexpr std::uint32_t kAccessRightsUnusable = 1U << 16;

// Access rights from the AMD-style attribute word of x64::SegmentState
// (descriptor bits 47:40 in 7:0, bits 55:52 in 11:8). A segment that is not
// present can only be a null selector (loading a non-present descriptor
// faults), so it becomes unusable.
[[nodiscard]] constexpr std::uint32_t access_rights_from_attributes(std::uint16_t attributes)
{
    const std::uint32_t low = attributes & 0xFFU;
    const std::uint32_t high = (attributes >> 8) & 0xFU;
    const std::uint32_t rights = low | (high << 12);
    return (rights & kAccessRightsPresent) != 0 ? rights : (rights | kAccessRightsUnusable);
}

}  // namespace boxy::vmx
