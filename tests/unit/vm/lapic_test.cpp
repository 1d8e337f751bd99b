// SPDX-License-Identifier: MIT
//
// The local APIC model's register interface (vmm/vm/lapic.hpp): reset
// values, and which access to which x2APIC MSR reads, writes or raises #GP
// (SDM Vol. 3A, 11.12.1.2 Table 11-6, 11.12.1.3), IA32_APIC_BASE and the
// x2APIC state transitions (11.12.5).
#include "lapic_support.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace boxy::vmm;
using namespace boxy::vmm::test;
using namespace boxy::vmm::lapic_msr;

namespace {

constexpr std::uint64_t kBaseDefault = 0xFEE0'0000;
constexpr std::uint64_t kBsp = 1U << 8;
constexpr std::uint64_t kExtd = 1U << 10;
constexpr std::uint64_t kEnable = 1U << 11;
constexpr std::uint64_t kMasked = 1U << 16;

}  // namespace

TEST_CASE("lapic: reset state is x2APIC mode, software-disabled, LVTs masked", "[lapic]")
{
    const Lapic lapic{LapicConfig{.x2apic_id = 0x35, .bootstrap_processor = true}};
    CHECK(lapic.mode() == LapicMode::x2apic);
    CHECK_FALSE(lapic.software_enabled());
    CHECK(read(lapic, kApicBase) == (kBaseDefault | kEnable | kExtd | kBsp));
    CHECK(read(lapic, kId) == 0x35);
    CHECK(read(lapic, kVersion) == 0x0006'0015);  // max LVT entry 6, no EOI suppression
    CHECK(read(lapic, kTpr) == 0);
    CHECK(read(lapic, kPpr) == 0);
    CHECK(read(lapic, kSvr) == 0xFF);
    CHECK(read(lapic, kEsr) == 0);
    CHECK(read(lapic, kIcr) == 0);
    for (const std::uint32_t lvt :
         {kLvtCmci, kLvtTimer, kLvtThermal, kLvtPerformance, kLvtLint0, kLvtLint1, kLvtError}) {
        CHECK(read(lapic, lvt) == kMasked);
    }
    for (std::uint32_t i = 0; i < 8; ++i) {
        CHECK(read(lapic, kIsr0 + i) == 0);
        CHECK(read(lapic, kTmr0 + i) == 0);
        CHECK(read(lapic, kIrr0 + i) == 0);
    }
    CHECK(read(lapic, kInitialCount) == 0);
    CHECK(read(lapic, kCurrentCount) == 0);
    CHECK(read(lapic, kDivideConfig) == 0);
    CHECK(read(lapic, kTscDeadline) == 0);
    CHECK_FALSE(lapic.pending());
    CHECK_FALSE(lapic.next_deadline());

    const Lapic application_processor{LapicConfig{.x2apic_id = 1}};
    CHECK(read(application_processor, kApicBase) == (kBaseDefault | kEnable | kExtd));
}

TEST_CASE("lapic: LDR is derived from the x2APIC ID (11.12.10.2)", "[lapic]")
{
    CHECK(logical_x2apic_id(0) == 0x0000'0001);
    CHECK(logical_x2apic_id(0x35) == 0x0003'0020);
    CHECK(logical_x2apic_id(0xF) == 0x0000'8000);
    CHECK(logical_x2apic_id(0xF'FFFF) == 0xFFFF'8000);
    CHECK(read(Lapic{LapicConfig{.x2apic_id = 0x35}}, kLdr) == 0x0003'0020);
    Lapic lapic = enabled_lapic();
    CHECK(write_faults(lapic, kLdr, 0x0003'0020));  // read-only in x2APIC mode
}

TEST_CASE("lapic: addresses without an x2APIC register fault both ways", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    // APR (809H), RRD (80CH), DFR (80EH) and ICR high (831H) are gone in
    // x2APIC mode; the others were never defined.
    for (const std::uint32_t msr :
         {0x800U, 0x801U, 0x804U, 0x805U, 0x806U, 0x807U, 0x809U, 0x80CU, 0x80EU, 0x829U, 0x82AU,
          0x82BU, 0x82CU, 0x82DU, 0x82EU, 0x831U, 0x83AU, 0x83BU, 0x83CU, 0x83DU, 0x840U, 0x8FFU}) {
        INFO("MSR " << std::hex << msr);
        CHECK(read_faults(lapic, msr));
        CHECK(write_faults(lapic, msr, 0));
    }
    CHECK(read_faults(lapic, 0x7FF));  // not the model's at all
    CHECK(write_faults(lapic, 0x900, 0));
}

TEST_CASE("lapic: read-only registers fault on write, write-only ones on read", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    for (const std::uint32_t msr : {kId, kVersion, kPpr, kLdr, kCurrentCount}) {
        INFO("MSR " << std::hex << msr);
        CHECK(write_faults(lapic, msr, 0));
    }
    for (std::uint32_t i = 0; i < 8; ++i) {
        CHECK(write_faults(lapic, kIsr0 + i, 0));
        CHECK(write_faults(lapic, kTmr0 + i, 0));
        CHECK(write_faults(lapic, kIrr0 + i, 0));
    }
    CHECK(read_faults(lapic, kEoi));
    CHECK(read_faults(lapic, kSelfIpi));
}

TEST_CASE("lapic: bits 63:32 are reserved in all registers but the ICR", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    for (const std::uint32_t msr :
         {kTpr, kEoi, kSvr, kEsr, kLvtTimer, kLvtError, kInitialCount, kDivideConfig, kSelfIpi}) {
        INFO("MSR " << std::hex << msr);
        CHECK(write_faults(lapic, msr, std::uint64_t{1} << 32));
    }
    CHECK(lapic.write_msr(kIcr, std::uint64_t{7} << 32 | 0x40).has_value());
}

TEST_CASE("lapic: TPR holds 8 bits", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    write(lapic, kTpr, 0xA5);
    CHECK(read(lapic, kTpr) == 0xA5);
    CHECK(lapic.tpr() == 0xA5);
    CHECK(write_faults(lapic, kTpr, 0x100));
    CHECK(read(lapic, kTpr) == 0xA5);
    lapic.set_tpr(0x30);  // CR8 = 3
    CHECK(read(lapic, kTpr) == 0x30);
}

TEST_CASE("lapic: SVR enables the APIC; disabling masks every LVT (11.4.7.2)", "[lapic]")
{
    Lapic lapic{LapicConfig{.x2apic_id = 1}};
    // While software-disabled the mask bits stay set.
    write(lapic, kLvtLint0, 0x700);
    CHECK(read(lapic, kLvtLint0) == (0x700 | kMasked));

    write(lapic, kSvr, 0x3FF);  // enable and focus checking off: both defined
    CHECK(lapic.software_enabled());
    CHECK(read(lapic, kSvr) == 0x3FF);
    write(lapic, kLvtTimer, 0xEC);
    write(lapic, kLvtLint0, 0x700);
    CHECK(read(lapic, kLvtTimer) == 0xEC);
    CHECK(read(lapic, kLvtLint0) == 0x700);

    write(lapic, kSvr, 0xFF);
    CHECK_FALSE(lapic.software_enabled());
    CHECK(read(lapic, kLvtTimer) == (0xEC | kMasked));
    CHECK(read(lapic, kLvtLint0) == (0x700 | kMasked));

    // EOI-broadcast suppression (bit 12) is not offered, so it is reserved
    // like bits 11:10 and 31:13.
    CHECK(write_faults(lapic, kSvr, 0x11FF));
    CHECK(write_faults(lapic, kSvr, 0x5FF));
    CHECK(write_faults(lapic, kSvr, 0x2'01FF));
    CHECK(read(lapic, kSvr) == 0xFF);
}

TEST_CASE("lapic: LVT reserved bits fault, read-only bits are ignored", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    // Timer: no delivery mode, polarity or trigger; mode 11b is reserved.
    CHECK(write_faults(lapic, kLvtTimer, 0x100));
    CHECK(write_faults(lapic, kLvtTimer, 0x8000));
    CHECK(write_faults(lapic, kLvtTimer, 3U << 17));
    CHECK(write_faults(lapic, kLvtTimer, 1U << 19));
    write(lapic, kLvtTimer, (2U << 17) | 0xEC);
    CHECK(read(lapic, kLvtTimer) == ((2U << 17) | 0xEC));
    // CMCI, thermal, performance: delivery mode but no pin bits.
    for (const std::uint32_t msr : {kLvtCmci, kLvtThermal, kLvtPerformance}) {
        INFO("MSR " << std::hex << msr);
        write(lapic, msr, 0x400 | kMasked);  // NMI, masked
        CHECK(read(lapic, msr) == (0x400 | kMasked));
        CHECK(write_faults(lapic, msr, 0x2000));
        CHECK(write_faults(lapic, msr, 0x8000));
        CHECK(write_faults(lapic, msr, 1U << 17));
    }
    // LINT0/1: polarity and trigger mode too; remote IRR and delivery
    // status are read-only.
    write(lapic, kLvtLint1, 0xA400 | 0x1000 | 0x4000);
    CHECK(read(lapic, kLvtLint1) == 0xA400);
    CHECK(write_faults(lapic, kLvtLint0, 0x800));
    CHECK(write_faults(lapic, kLvtLint0, 1U << 17));
    // Error: vector and mask only.
    write(lapic, kLvtError, 0xFE);
    CHECK(read(lapic, kLvtError) == 0xFE);
    CHECK(write_faults(lapic, kLvtError, 0x400));
    CHECK(write_faults(lapic, kLvtError, 0x8000));
}

TEST_CASE("lapic: divide configuration uses bits 0, 1 and 3", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    write(lapic, kDivideConfig, 0xB);
    CHECK(read(lapic, kDivideConfig) == 0xB);
    CHECK(write_faults(lapic, kDivideConfig, 0x4));
    CHECK(write_faults(lapic, kDivideConfig, 0x10));
    CHECK(read(lapic, kDivideConfig) == 0xB);
}

TEST_CASE("lapic: ESR takes only 0 and latches errors (11.5.3)", "[lapic]")
{
    Lapic lapic = enabled_lapic();
    CHECK(write_faults(lapic, kEsr, 0x40));
    CHECK_FALSE(lapic.accept(3, false));
    CHECK(read(lapic, kEsr) == 0);  // not latched yet
    CHECK(latched_esr(lapic) == 0x40);
    CHECK(latched_esr(lapic) == 0);
}

TEST_CASE("lapic: IA32_APIC_BASE reserved bits and x2APIC transitions (11.12.5)", "[lapic]")
{
    Lapic lapic{LapicConfig{.x2apic_id = 2, .physical_address_bits = 39}};
    const std::uint64_t x2apic = kBaseDefault | kEnable | kExtd;
    const std::uint64_t xapic = kBaseDefault | kEnable;
    const std::uint64_t disabled = kBaseDefault;

    CHECK(write_faults(lapic, kApicBase, x2apic | 0x200));                   // bit 9
    CHECK(write_faults(lapic, kApicBase, x2apic | 0x1));                     // bits 7:0
    CHECK(write_faults(lapic, kApicBase, x2apic | std::uint64_t{1} << 39));  // MAXPHYADDR
    CHECK(write_faults(lapic, kApicBase, kBaseDefault | kExtd));             // EN=0, EXTD=1
    CHECK(write_faults(lapic, kApicBase, xapic));  // x2APIC -> xAPIC is invalid
    write(lapic, kApicBase, x2apic | kBsp | std::uint64_t{1} << 38);
    CHECK(read(lapic, kApicBase) == (x2apic | kBsp | std::uint64_t{1} << 38));
    write(lapic, kApicBase, x2apic);

    // Global disable: registers gone (#GP) and the state lost.
    write(lapic, kSvr, kSvrEnabled);
    REQUIRE(lapic.accept(0x40, false));
    write(lapic, kApicBase, disabled);
    CHECK(lapic.mode() == LapicMode::disabled);
    CHECK(read_faults(lapic, kId));
    CHECK(write_faults(lapic, kSvr, kSvrEnabled));
    CHECK_FALSE(lapic.accept(0x41, false));
    CHECK_FALSE(lapic.pending());
    CHECK(write_faults(lapic, kApicBase, x2apic));  // disabled -> x2APIC is invalid

    // disabled -> xAPIC -> x2APIC is the way back; xAPIC has no MSRs.
    write(lapic, kApicBase, xapic);
    CHECK(lapic.mode() == LapicMode::xapic);
    CHECK(read_faults(lapic, kId));
    write(lapic, kApicBase, x2apic);
    CHECK(lapic.mode() == LapicMode::x2apic);
    CHECK(read(lapic, kId) == 2);
    CHECK(read(lapic, kSvr) == 0xFF);
    CHECK(read(lapic, kIrr0 + 2) == 0);
}

TEST_CASE("lapic: INIT resets the registers, keeps ID and mode", "[lapic]")
{
    Lapic lapic = enabled_lapic(9);
    write(lapic, kTpr, 0x20);
    write(lapic, kLvtTimer, 0x30);
    REQUIRE(lapic.accept(0x50, true));
    REQUIRE(lapic.acknowledge(0x50));
    lapic.init_reset();
    CHECK(lapic.mode() == LapicMode::x2apic);
    CHECK(read(lapic, kId) == 9);
    CHECK(read(lapic, kLdr) == logical_x2apic_id(9));
    CHECK(read(lapic, kTpr) == 0);
    CHECK(read(lapic, kSvr) == 0xFF);
    CHECK(read(lapic, kLvtTimer) == kMasked);
    CHECK(read(lapic, kIsr0 + 2) == 0);
    CHECK(read(lapic, kTmr0 + 2) == 0);
}

TEST_CASE("lapic: handles_msr covers 1BH, 6E0H and 800H-8FFH", "[lapic]")
{
    CHECK(Lapic::handles_msr(0x1B));
    CHECK(Lapic::handles_msr(0x6E0));
    CHECK(Lapic::handles_msr(0x800));
    CHECK(Lapic::handles_msr(0x8FF));
    CHECK_FALSE(Lapic::handles_msr(0x7FF));
    CHECK_FALSE(Lapic::handles_msr(0x900));
    CHECK_FALSE(Lapic::handles_msr(0x1C));
}
