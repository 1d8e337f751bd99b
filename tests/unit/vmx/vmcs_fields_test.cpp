// SPDX-License-Identifier: MIT
//
// VMCS field encodings against SDM Vol. 3D, Appendix B, the width rules
// that make a wrongly sized VMREAD/VMWRITE fail to compile, access rights
// from segment attributes, and the VMsucceed/VMfail decoding of the VMX
// instruction wrappers (which are compiled here, never executed).
#include "vmcs_fields.hpp"

#include "vmcs.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <type_traits>

using namespace boxy::vmx;

namespace {

template <class Field, class V>
constexpr bool kCanWrite = requires(Field field, V value)
{
    vmwrite(field, value);
};

}  // namespace

TEST_CASE("vmcs fields: encodings from Appendix B")
{
    // One per width and type (control, read-only, guest, host).
    STATIC_REQUIRE(kVirtualProcessorId.encoding == 0x0000);
    STATIC_REQUIRE(kGuestCsSelector.encoding == 0x0802);
    STATIC_REQUIRE(kHostTrSelector.encoding == 0x0C0C);
    STATIC_REQUIRE(kMsrBitmap.encoding == 0x2004);
    STATIC_REQUIRE(kEptPointer.encoding == 0x201A);
    STATIC_REQUIRE(kGuestPhysicalAddress.encoding == 0x2400);
    STATIC_REQUIRE(kVmcsLinkPointer.encoding == 0x2800);
    STATIC_REQUIRE(kGuestEfer.encoding == 0x2806);
    STATIC_REQUIRE(kHostEfer.encoding == 0x2C02);
    STATIC_REQUIRE(kSecondaryProcessorControls.encoding == 0x401E);
    STATIC_REQUIRE(kExitReason.encoding == 0x4402);
    STATIC_REQUIRE(kGuestInterruptibility.encoding == 0x4824);
    STATIC_REQUIRE(kGuestActivityState.encoding == 0x4826);
    STATIC_REQUIRE(kHostSysenterCs.encoding == 0x4C00);
    STATIC_REQUIRE(kCr4ReadShadow.encoding == 0x6006);
    STATIC_REQUIRE(kExitQualification.encoding == 0x6400);
    STATIC_REQUIRE(kGuestLinearAddress.encoding == 0x640A);
    STATIC_REQUIRE(kGuestRflags.encoding == 0x6820);
    STATIC_REQUIRE(kGuestSysenterEip.encoding == 0x6826);
    STATIC_REQUIRE(kHostRip.encoding == 0x6C16);

    // Segment groups hold the matching fields.
    STATIC_REQUIRE(kGuestTr.selector.encoding == 0x080E);
    STATIC_REQUIRE(kGuestTr.limit.encoding == 0x480E);
    STATIC_REQUIRE(kGuestTr.access_rights.encoding == 0x4822);
    STATIC_REQUIRE(kGuestTr.base.encoding == 0x6814);
    STATIC_REQUIRE(kGuestLdtr.access_rights.encoding == 0x4820);
}

TEST_CASE("vmcs fields: the width bits 14:13 must match the C++ type")
{
    STATIC_REQUIRE(width_of(0x0802) == VmcsWidth::bits16);
    STATIC_REQUIRE(width_of(0x2806) == VmcsWidth::bits64);
    STATIC_REQUIRE(width_of(0x4002) == VmcsWidth::bits32);
    STATIC_REQUIRE(width_of(0x681E) == VmcsWidth::natural);

    STATIC_REQUIRE(encoding_matches<std::uint32_t>(0x4002));
    STATIC_REQUIRE_FALSE(encoding_matches<std::uint16_t>(0x4002));
    STATIC_REQUIRE_FALSE(encoding_matches<std::uint64_t>(0x681E));
    STATIC_REQUIRE_FALSE(encoding_matches<NaturalWidth>(0x2806));
    // The "high" access to a 64-bit field is not a field of its own here,
    // and reserved bits (12, 31:15) are refused.
    STATIC_REQUIRE_FALSE(encoding_matches<std::uint64_t>(0x2807));
    STATIC_REQUIRE_FALSE(encoding_matches<std::uint16_t>(0x1802));
    STATIC_REQUIRE_FALSE(encoding_matches<std::uint16_t>(0x10802));
}

TEST_CASE("vmcs fields: VMWRITE accepts values no wider than the field")
{
    STATIC_REQUIRE(kCanWrite<Field16, std::uint16_t>);
    STATIC_REQUIRE_FALSE(kCanWrite<Field16, std::uint32_t>);
    STATIC_REQUIRE_FALSE(kCanWrite<Field16, std::uint64_t>);
    STATIC_REQUIRE(kCanWrite<Field32, std::uint16_t>);
    STATIC_REQUIRE(kCanWrite<Field32, std::uint32_t>);
    STATIC_REQUIRE_FALSE(kCanWrite<Field32, std::uint64_t>);
    STATIC_REQUIRE(kCanWrite<Field64, std::uint64_t>);
    STATIC_REQUIRE(kCanWrite<FieldNatural, std::uint64_t>);
    // Signed values and bools are never silently converted.
    STATIC_REQUIRE_FALSE(kCanWrite<Field32, int>);
    STATIC_REQUIRE_FALSE(kCanWrite<Field64, bool>);

    // VMREAD returns the field's own width.
    STATIC_REQUIRE(std::is_same_v<decltype(vmread(kGuestCsSelector)),
                                  boxy::Result<std::uint16_t, VmxFailure>>);
    STATIC_REQUIRE(
        std::is_same_v<decltype(vmread(kExitReason)), boxy::Result<std::uint32_t, VmxFailure>>);
    STATIC_REQUIRE(
        std::is_same_v<decltype(vmread(kGuestRip)), boxy::Result<std::uint64_t, VmxFailure>>);
    STATIC_REQUIRE_FALSE(std::is_same_v<decltype(kGuestRip), decltype(kGuestEfer)>);
}

TEST_CASE("vmx instructions: VMsucceed, VMfailInvalid and VMfailValid from CF and ZF")
{
    CHECK(vmx_status(false, false).has_value());
    auto invalid = vmx_status(true, false);
    REQUIRE_FALSE(invalid.has_value());
    CHECK(invalid.error() == VmxFailure::invalid);
    auto valid = vmx_status(false, true);
    REQUIRE_FALSE(valid.has_value());
    CHECK(valid.error() == VmxFailure::valid);
}

TEST_CASE("vmcs fields: access rights from segment attributes")
{
    // 64-bit code: P, DPL 0, S, type 0xB; L and G.
    STATIC_REQUIRE(access_rights_from_attributes(0xA9B) == 0xA09B);
    // Flat data, D/B and G: 0xC093.
    STATIC_REQUIRE(access_rights_from_attributes(0xC93) == 0xC093);
    // A null selector (attributes 0) is unusable.
    STATIC_REQUIRE(access_rights_from_attributes(0) == kAccessRightsUnusable);
    // Busy 64-bit TSS, no G.
    STATIC_REQUIRE(access_rights_from_attributes(0x08B) == 0x008B);
}
