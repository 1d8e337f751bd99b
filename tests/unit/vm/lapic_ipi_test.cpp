// SPDX-License-Identifier: MIT
//
// IPIs in the local APIC model: decoding the 64-bit x2APIC ICR (SDM Vol. 3A,
// 11.6.1, 11.12.9) into an IpiRequest, destinations in physical and logical
// cluster mode (11.12.10), the shorthands and the combinations Table 11-3
// calls invalid, and the SELF IPI register (11.12.11).
#include "lapic_support.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace boxy::vmm;
using namespace boxy::vmm::test;
using namespace boxy::vmm::lapic_msr;

namespace {

constexpr std::uint32_t kSender = 0x12;

// ICR fields.
constexpr std::uint64_t kLowestPriority = 1U << 8;
constexpr std::uint64_t kSmi = 2U << 8;
constexpr std::uint64_t kNmi = 4U << 8;
constexpr std::uint64_t kInit = 5U << 8;
constexpr std::uint64_t kStartup = 6U << 8;
constexpr std::uint64_t kLogical = 1U << 11;
constexpr std::uint64_t kAssert = 1U << 14;
constexpr std::uint64_t kLevelTriggered = 1U << 15;
constexpr std::uint64_t kSelf = 1U << 18;
constexpr std::uint64_t kAllIncludingSelf = 2U << 18;
constexpr std::uint64_t kAllExcludingSelf = 3U << 18;

constexpr std::uint64_t to(std::uint32_t destination)
{
    return std::uint64_t{destination} << 32;
}

IpiRequest sent(std::uint64_t icr)
{
    Lapic lapic = enabled_lapic(kSender);
    const MsrWriteEffect effect = write(lapic, kIcr, icr);
    CHECK(read(lapic, kIcr) == icr);
    REQUIRE(effect.ipi);
    CHECK(effect.ipi->source_id == kSender);
    return *effect.ipi;
}

bool nothing_sent(std::uint64_t icr)
{
    Lapic lapic = enabled_lapic(kSender);
    return !write(lapic, kIcr, icr).ipi;
}

}  // namespace

TEST_CASE("lapic ipi: fixed, physical destination", "[lapic][ipi]")
{
    const IpiRequest ipi = sent(to(5) | 0x30);
    CHECK(ipi.delivery == IpiDelivery::fixed);
    CHECK(ipi.vector == 0x30);
    CHECK(ipi.destination == IpiDestination::physical);
    CHECK(ipi.destination_id == 5);
    CHECK(ipi.targets(5));
    CHECK_FALSE(ipi.targets(4));
    CHECK_FALSE(ipi.targets(kSender));
    // x2APIC IDs are 32 bits wide.
    CHECK(sent(to(0x1234'5678) | 0x30).targets(0x1234'5678));
}

TEST_CASE("lapic ipi: logical destination is cluster and member bitmap", "[lapic][ipi]")
{
    const IpiRequest ipi = sent(to(0x0002'0005) | kLogical | 0x31);
    CHECK(ipi.destination == IpiDestination::logical);
    CHECK(ipi.destination_id == 0x0002'0005);
    CHECK(ipi.targets(0x20));  // cluster 2, member 0
    CHECK(ipi.targets(0x22));  // cluster 2, member 2
    CHECK_FALSE(ipi.targets(0x21));
    CHECK_FALSE(ipi.targets(0x10));                                      // cluster 1, member 0
    CHECK_FALSE(ipi.targets(0x00));                                      // cluster 0, member 0
    CHECK_FALSE(sent(to(0x0002'0000) | kLogical | 0x31).targets(0x20));  // empty bitmap
}

TEST_CASE("lapic ipi: destination FFFF_FFFFH broadcasts in both modes", "[lapic][ipi]")
{
    for (const std::uint64_t mode : {std::uint64_t{0}, kLogical}) {
        const IpiRequest ipi = sent(to(0xFFFF'FFFF) | mode | 0x32);
        CHECK(ipi.destination == IpiDestination::all_including_self);
        CHECK(ipi.targets(kSender));
        CHECK(ipi.targets(0));
    }
}

TEST_CASE("lapic ipi: destination shorthands ignore the destination field", "[lapic][ipi]")
{
    const IpiRequest self = sent(to(7) | kSelf | 0x33);
    CHECK(self.destination == IpiDestination::self);
    CHECK(self.targets(kSender));
    CHECK_FALSE(self.targets(7));

    const IpiRequest all = sent(to(7) | kAllIncludingSelf | 0x34);
    CHECK(all.destination == IpiDestination::all_including_self);
    CHECK(all.targets(kSender));
    CHECK(all.targets(1));

    const IpiRequest others = sent(kAllExcludingSelf | 0x35);
    CHECK(others.destination == IpiDestination::all_excluding_self);
    CHECK_FALSE(others.targets(kSender));
    CHECK(others.targets(1));
}

TEST_CASE("lapic ipi: INIT, SIPI, NMI and lowest priority", "[lapic][ipi]")
{
    const IpiRequest init = sent(to(1) | kAssert | kLevelTriggered | kInit);
    CHECK(init.delivery == IpiDelivery::init);
    CHECK(init.vector == 0);
    CHECK(init.targets(1));

    const IpiRequest edge_init = sent(to(1) | kAssert | kInit | 0x77);
    CHECK(edge_init.delivery == IpiDelivery::init);
    CHECK(edge_init.vector == 0);  // ignored

    const IpiRequest sipi = sent(to(1) | kAssert | kStartup | 0x9A);
    CHECK(sipi.delivery == IpiDelivery::startup);
    CHECK(sipi.vector == 0x9A);
    CHECK(sent(to(1) | kStartup | 0x08).vector == 0x08);  // any page: no illegal vectors

    const IpiRequest nmi = sent(kAllExcludingSelf | kAssert | kNmi | 0x02);
    CHECK(nmi.delivery == IpiDelivery::nmi);
    CHECK(nmi.vector == 0);

    const IpiRequest lowest = sent(to(0x0001'000F) | kLogical | kLowestPriority | 0x41);
    CHECK(lowest.delivery == IpiDelivery::lowest_priority);
    CHECK(lowest.vector == 0x41);

    // INIT to all others, as an OS parks its APs.
    CHECK(sent(kAllExcludingSelf | kAssert | kInit).targets(3));
}

TEST_CASE("lapic ipi: invalid combinations send nothing (Table 11-3)", "[lapic][ipi]")
{
    // INIT level de-assert (level-triggered with Level=0), and any
    // level-triggered IPI without Level.
    CHECK(nothing_sent(to(1) | kLevelTriggered | kInit));
    CHECK(nothing_sent(to(1) | kLevelTriggered | 0x40));
    // Level-triggered with Level=1 is treated as edge-triggered.
    CHECK(sent(to(1) | kLevelTriggered | kAssert | 0x40).vector == 0x40);
    // "self" and "all including self" take only fixed delivery.
    for (const std::uint64_t mode : {kLowestPriority, kNmi, kInit, kStartup, kSmi}) {
        CHECK(nothing_sent(kSelf | kAssert | mode | 0x40));
        CHECK(nothing_sent(kAllIncludingSelf | kAssert | mode | 0x40));
    }
    // SMI is not modelled; 011b and 111b are reserved delivery modes.
    CHECK(nothing_sent(to(1) | kSmi));
    CHECK(nothing_sent(to(1) | (3U << 8) | 0x40));
    CHECK(nothing_sent(to(1) | (7U << 8) | 0x40));
}

TEST_CASE("lapic ipi: ICR reserved bits fault, the ICR keeps its value", "[lapic][ipi]")
{
    Lapic lapic = enabled_lapic(kSender);
    write(lapic, kIcr, to(3) | 0x40);
    // Delivery status (12) is gone in x2APIC mode; 13, 17:16, 31:20 reserved.
    for (const unsigned bit : {12U, 13U, 16U, 17U, 20U, 25U, 31U}) {
        INFO("bit " << bit);
        CHECK(write_faults(lapic, kIcr, to(3) | (std::uint64_t{1} << bit) | 0x40));
    }
    CHECK(read(lapic, kIcr) == (to(3) | 0x40));
}

TEST_CASE("lapic ipi: a fixed IPI with vector 0-15 is not sent (11.5.3)", "[lapic][ipi]")
{
    Lapic lapic = enabled_lapic(kSender);
    CHECK_FALSE(write(lapic, kIcr, to(1) | 0x0F).ipi);
    CHECK_FALSE(write(lapic, kIcr, to(1) | kLowestPriority | 0x00).ipi);
    CHECK(latched_esr(lapic) == 0x20);  // send illegal vector
}

TEST_CASE("lapic ipi: decode_icr reports an illegal vector instead of an IPI", "[lapic][ipi]")
{
    const IcrDecode illegal = decode_icr(to(1) | 0x0F, kSender);
    CHECK_FALSE(illegal.ipi);
    CHECK(illegal.illegal_vector);
    const IcrDecode legal = decode_icr(to(1) | 0x10, kSender);
    REQUIRE(legal.ipi);
    CHECK_FALSE(legal.illegal_vector);
    CHECK(legal.ipi->vector == 0x10);
    CHECK(legal.ipi->source_id == kSender);
}

TEST_CASE("lapic ipi: SELF IPI register delivers an edge-triggered fixed IPI", "[lapic][ipi]")
{
    Lapic lapic = enabled_lapic(kSender);
    REQUIRE(lapic.accept(0x40, true));
    const MsrWriteEffect effect = write(lapic, kSelfIpi, 0x40);
    CHECK_FALSE(effect.ipi);  // delivered locally, nothing to route
    CHECK(lapic.pending() == 0x40);
    CHECK(read(lapic, kTmr0 + 2) == 0);  // now edge-triggered

    CHECK(write_faults(lapic, kSelfIpi, 0x140));  // bits 31:8 reserved
    CHECK(read_faults(lapic, kSelfIpi));
    write(lapic, kSelfIpi, 0x0A);
    CHECK(latched_esr(lapic) == 0x20);
    CHECK(lapic.pending() == 0x40);

    Lapic disabled{LapicConfig{.x2apic_id = kSender}};
    write(disabled, kSelfIpi, 0x40);
    CHECK_FALSE(disabled.pending());
}
