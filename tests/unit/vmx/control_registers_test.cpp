// SPDX-License-Identifier: MIT
//
// Guest CR0 and CR4 under VMX: the bits IA32_VMX_CR{0,4}_FIXED{0,1} force,
// what the guest sees through the read shadow, and unrestricted guest
// (SDM Vol. 3D, A.7, A.8; Vol. 3C, 27.3.1.1). FIXED values of the
// Skylake-X in vmx_capabilities_test.cpp.
#include "vmx_capabilities.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace boxy::vmx;

namespace {

constexpr std::uint64_t kCr0Fixed0 = 0x8000'0021;  // PG, NE, PE
constexpr std::uint64_t kCr0Fixed1 = 0xFFFF'FFFF;
constexpr std::uint64_t kCr4Fixed0 = 0x0000'2000;  // VMXE
constexpr std::uint64_t kCr4Fixed1 = 0x0037'27FF;  // no PKE (22), no SMXE (14)

constexpr std::uint64_t kUpper32 = 0xFFFF'FFFF'0000'0000;
constexpr std::uint64_t kCr0ResetValue = 0x6000'0010;  // CD, NW, ET after INIT
constexpr std::uint64_t kCr4Pke = std::uint64_t{1} << 22;

}  // namespace

TEST_CASE("guest_cr0: unrestricted guest runs in real mode, NE forced and hidden")
{
    const GuestControlRegister cr0 = guest_cr0(kCr0ResetValue, kCr0Fixed0, kCr0Fixed1, true);
    CHECK(cr0.value == (kCr0ResetValue | kCr0Ne));  // PE and PG stay clear
    CHECK(cr0.shadow == kCr0ResetValue);            // the guest reads NE clear
    CHECK(cr0.mask == (kCr0Ne | kUpper32));         // PE, PG are the guest's
    CHECK(cr0.refused == 0);

    // Linux in long mode: PG, PE, NE, WP, MP, ET; nothing to hide.
    constexpr std::uint64_t kLinux = 0x8005'0033;
    const GuestControlRegister paged = guest_cr0(kLinux, kCr0Fixed0, kCr0Fixed1, true);
    CHECK(paged.value == kLinux);
    CHECK(paged.shadow == kLinux);
}

TEST_CASE("guest_cr0: without unrestricted guest PE and PG are forced too")
{
    const GuestControlRegister cr0 = guest_cr0(kCr0ResetValue, kCr0Fixed0, kCr0Fixed1, false);
    CHECK(cr0.value == (kCr0ResetValue | kCr0Pe | kCr0Ne | kCr0Pg));
    CHECK(cr0.shadow == kCr0ResetValue);
    CHECK(cr0.mask == (kCr0Pe | kCr0Ne | kCr0Pg | kUpper32));
}

TEST_CASE("guest_cr0: bits FIXED1 clears are refused")
{
    const std::uint64_t wanted = kCr0ResetValue | (std::uint64_t{1} << 40);
    const GuestControlRegister cr0 = guest_cr0(wanted, kCr0Fixed0, kCr0Fixed1, true);
    CHECK(cr0.refused == std::uint64_t{1} << 40);
    CHECK(cr0.value == (kCr0ResetValue | kCr0Ne));
    CHECK(cr0.shadow == kCr0ResetValue);
}

TEST_CASE("guest_cr4: VMXE is set, hidden from the guest, and refused if it asks")
{
    // PSE PAE MCE PGE OSFXSR OSXMMEXCPT PCIDE OSXSAVE SMEP SMAP.
    constexpr std::uint64_t kLinux = 0x0036'06F0;
    const GuestControlRegister cr4 = guest_cr4(kLinux, kCr4Fixed0, kCr4Fixed1);
    CHECK(cr4.value == (kLinux | kCr4Vmxe));
    CHECK(cr4.shadow == kLinux);
    CHECK((cr4.mask & kCr4Vmxe) != 0);
    CHECK(cr4.mask == (kCr4Vmxe | ~kCr4Fixed1));
    CHECK(cr4.refused == 0);

    // The guest sets VMXE (a MOV to CR4 that exits because VMXE is masked):
    // refused, so the handler raises #GP, and the view stays without it.
    const GuestControlRegister asked = guest_cr4(kLinux | kCr4Vmxe, kCr4Fixed0, kCr4Fixed1);
    CHECK(asked.refused == kCr4Vmxe);
    CHECK(asked.shadow == kLinux);
    CHECK(asked.value == (kLinux | kCr4Vmxe));
}

TEST_CASE("guest_cr4: a feature this CPU lacks is refused, not set")
{
    const GuestControlRegister cr4 = guest_cr4(0x20 | kCr4Pke, kCr4Fixed0, kCr4Fixed1);
    CHECK(cr4.refused == kCr4Pke);
    CHECK(cr4.value == (0x20 | kCr4Vmxe));
    CHECK(cr4.shadow == 0x20);
    CHECK((cr4.mask & kCr4Pke) != 0);
}
