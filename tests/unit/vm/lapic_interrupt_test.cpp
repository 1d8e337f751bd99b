// SPDX-License-Identifier: MIT
//
// Interrupt acceptance and priority in the local APIC model: IRR/ISR/TMR
// (SDM Vol. 3A, 11.8.4), TPR/PPR and priority classes (11.8.3.1), EOI
// order (11.8.5), illegal vectors and the error interrupt (11.5.2, 11.5.3).
#include "lapic_support.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

using namespace boxy::vmm;
using namespace boxy::vmm::test;
using namespace boxy::vmm::lapic_msr;

namespace {

// Bit `vector` of a 256-bit register as its x2APIC MSR shows it.
bool register_bit(const Lapic& lapic, std::uint32_t first_msr, std::uint8_t vector)
{
    return ((read(lapic, first_msr + vector / 32) >> (vector % 32)) & 1) != 0;
}

// Injects what is pending, as the VMM does at VM entry.
std::uint8_t take(Lapic& lapic)
{
    const auto vector = lapic.pending();
    REQUIRE(vector);
    REQUIRE(lapic.acknowledge(*vector));
    return *vector;
}

}  // namespace

TEST_CASE("lapic: accept sets IRR and TMR by trigger mode", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    CHECK(lapic.accept(0x21, false));
    CHECK(lapic.accept(0xFF, true));
    CHECK(register_bit(lapic, kIrr0, 0x21));
    CHECK(register_bit(lapic, kIrr0, 0xFF));
    CHECK(read(lapic, kIrr0 + 1) == 0x2);
    CHECK(read(lapic, kIrr0 + 7) == 0x8000'0000);
    CHECK_FALSE(register_bit(lapic, kTmr0, 0x21));
    CHECK(register_bit(lapic, kTmr0, 0xFF));
    // The same vector again, now edge-triggered: still one IRR bit, TMR
    // follows the latest acceptance.
    CHECK(lapic.accept(0xFF, false));
    CHECK_FALSE(register_bit(lapic, kTmr0, 0xFF));
    CHECK(lapic.pending() == 0xFF);
}

TEST_CASE("lapic: acknowledge moves IRR to ISR", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    CHECK_FALSE(lapic.acknowledge(0x30));  // nothing requested
    REQUIRE(lapic.accept(0x30, false));
    CHECK(lapic.acknowledge(0x30));
    CHECK_FALSE(register_bit(lapic, kIrr0, 0x30));
    CHECK(register_bit(lapic, kIsr0, 0x30));
    CHECK_FALSE(lapic.pending());
    // A second one while the first is in service waits in IRR (11.8.4).
    REQUIRE(lapic.accept(0x30, false));
    CHECK(register_bit(lapic, kIrr0, 0x30));
    CHECK_FALSE(lapic.pending());
    write(lapic, kEoi, 0);
    CHECK(lapic.pending() == 0x30);
}

TEST_CASE("lapic: TPR masks priority classes at or below it", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    REQUIRE(lapic.accept(0x5F, false));
    write(lapic, kTpr, 0x50);
    CHECK(read(lapic, kPpr) == 0x50);
    CHECK_FALSE(lapic.pending());  // class 5 is not above PPR class 5
    CHECK_FALSE(lapic.has_pending_for_halt());
    write(lapic, kTpr, 0x4F);
    CHECK(lapic.pending() == 0x5F);
    CHECK(lapic.has_pending_for_halt());
    REQUIRE(lapic.accept(0x60, false));
    write(lapic, kTpr, 0x5F);
    CHECK(lapic.pending() == 0x60);
    write(lapic, kTpr, 0xF0);
    CHECK_FALSE(lapic.pending());
}

TEST_CASE("lapic: PPR is the higher of TPR and the in-service class", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    REQUIRE(lapic.accept(0x61, false));
    REQUIRE(take(lapic) == 0x61);
    write(lapic, kTpr, 0x25);
    CHECK(read(lapic, kPpr) == 0x60);
    CHECK(lapic.ppr() == 0x60);
    write(lapic, kTpr, 0x75);
    CHECK(read(lapic, kPpr) == 0x75);
    write(lapic, kTpr, 0x6A);
    CHECK(read(lapic, kPpr) == 0x6A);
    write(lapic, kEoi, 0);
    write(lapic, kTpr, 0x25);
    CHECK(read(lapic, kPpr) == 0x25);
}

TEST_CASE("lapic: higher classes nest, EOI ends the highest in service", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    REQUIRE(lapic.accept(0x40, false));
    REQUIRE(take(lapic) == 0x40);
    REQUIRE(lapic.accept(0x41, false));
    CHECK_FALSE(lapic.pending());  // same class as the one in service
    REQUIRE(lapic.accept(0x50, true));
    CHECK(take(lapic) == 0x50);  // nests
    CHECK(register_bit(lapic, kIsr0, 0x40));
    CHECK(register_bit(lapic, kIsr0, 0x50));
    REQUIRE(lapic.accept(0x90, false));
    CHECK(take(lapic) == 0x90);

    CHECK_FALSE(write(lapic, kEoi, 0).level_eoi);  // 0x90, edge
    CHECK_FALSE(register_bit(lapic, kIsr0, 0x90));
    CHECK(write(lapic, kEoi, 0).level_eoi == 0x50);  // level: for the I/O APIC
    CHECK_FALSE(register_bit(lapic, kIsr0, 0x50));
    CHECK(register_bit(lapic, kIsr0, 0x40));
    CHECK_FALSE(lapic.pending());  // 0x41 still blocked by 0x40
    CHECK_FALSE(write(lapic, kEoi, 0).level_eoi);
    CHECK(take(lapic) == 0x41);
    write(lapic, kEoi, 0);
    write(lapic, kEoi, 0);  // nothing in service: no effect
    CHECK(read(lapic, kIsr0 + 2) == 0);
    CHECK(write_faults(lapic, kEoi, 1));
}

TEST_CASE("lapic: the highest vector in IRR wins", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    for (const std::uint8_t vector : std::array<std::uint8_t, 5>{0x31, 0xE0, 0x7F, 0xE1, 0x10}) {
        REQUIRE(lapic.accept(vector, false));
    }
    CHECK(take(lapic) == 0xE1);
    CHECK_FALSE(lapic.pending());  // 0xE0 shares the class
    write(lapic, kEoi, 0);
    CHECK(take(lapic) == 0xE0);
    write(lapic, kEoi, 0);
    CHECK(take(lapic) == 0x7F);
    write(lapic, kEoi, 0);
    CHECK(take(lapic) == 0x31);
    write(lapic, kEoi, 0);
    CHECK(take(lapic) == 0x10);  // vector 16 is the lowest legal one
}

TEST_CASE("lapic: vectors 0-15 are illegal and set ESR (11.5.2)", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    for (std::uint8_t vector = 0; vector < 16; ++vector) {
        CHECK_FALSE(lapic.accept(vector, false));
    }
    CHECK(read(lapic, kIrr0) == 0);
    CHECK_FALSE(lapic.pending());
    CHECK(latched_esr(lapic) == 0x40);  // receive illegal vector
}

TEST_CASE("lapic: an APIC error raises the LVT error interrupt once per ESR write", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    write(lapic, kLvtError, 0xFE);
    CHECK_FALSE(lapic.accept(7, false));
    CHECK(take(lapic) == 0xFE);
    write(lapic, kEoi, 0);
    CHECK_FALSE(lapic.accept(8, false));  // same error, not re-armed
    CHECK_FALSE(lapic.pending());
    CHECK(latched_esr(lapic) == 0x40);
    CHECK_FALSE(lapic.accept(8, false));
    CHECK(lapic.pending() == 0xFE);

    // An error vector that is itself illegal only records that too.
    Lapic other = enabled_lapic();
    write(other, kLvtError, 0x05);
    write(other, kSelfIpi, 0x02);
    CHECK_FALSE(other.pending());
    CHECK(latched_esr(other) == 0x60);
}

TEST_CASE("lapic: a software-disabled APIC accepts nothing (11.4.7.2)", "[lapic]")
{
    Lapic lapic{LapicConfig{.x2apic_id = 1}};
    CHECK_FALSE(lapic.accept(0x40, false));
    CHECK_FALSE(lapic.pending());
    write(lapic, kSvr, kSvrEnabled);
    REQUIRE(lapic.accept(0x40, false));
    write(lapic, kSvr, 0xFF);
    CHECK(lapic.pending() == 0x40);  // what was in IRR stays deliverable
    CHECK_FALSE(lapic.accept(0x50, false));
    CHECK(lapic.pending() == 0x40);
}
