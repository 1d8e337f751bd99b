// SPDX-License-Identifier: MIT
//
// The local APIC timer model: TSC-deadline mode (SDM Vol. 3A, 11.5.4.1)
// armed, disarmed, moved, fired, masked and left by a mode change; the
// one-shot and periodic modes (11.5.4) with a fixed TSC-to-bus ratio; and
// next_deadline(), which tells the VMM how long a halted vCPU may sleep.
#include "lapic_support.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace boxy::vmm;
using namespace boxy::vmm::test;
using namespace boxy::vmm::lapic_msr;

namespace {

constexpr std::uint32_t kVector = 0xEC;
constexpr std::uint32_t kMasked = 1U << 16;
constexpr std::uint32_t kPeriodic = 1U << 17;
constexpr std::uint32_t kDeadlineMode = 2U << 17;
constexpr std::uint32_t kDivideBy1 = 0xB;

Lapic deadline_lapic()
{
    Lapic lapic = enabled_lapic();
    write(lapic, kLvtTimer, kDeadlineMode | kVector);
    return lapic;
}

// The timer interrupt was raised: take it and end it.
bool fired(Lapic& lapic)
{
    if (lapic.pending() != kVector) {
        return false;
    }
    REQUIRE(lapic.acknowledge(kVector));
    write(lapic, kEoi, 0);
    return true;
}

}  // namespace

TEST_CASE("lapic timer: IA32_TSC_DEADLINE is inert outside TSC-deadline mode", "[lapic][timer]")
{
    Lapic lapic = enabled_lapic();
    write(lapic, kLvtTimer, kVector);  // one-shot
    write(lapic, kTscDeadline, 1000);
    CHECK(read(lapic, kTscDeadline) == 0);
    CHECK(lapic.tsc_deadline() == 0);
    CHECK_FALSE(lapic.next_deadline());
    lapic.advance(5000);
    CHECK_FALSE(fired(lapic));
}

TEST_CASE("lapic timer: a TSC deadline fires once when the TSC reaches it", "[lapic][timer]")
{
    Lapic lapic = deadline_lapic();
    lapic.advance(100);
    write(lapic, kTscDeadline, 1000);
    CHECK(read(lapic, kTscDeadline) == 1000);
    CHECK(lapic.next_deadline() == 1000);
    CHECK_FALSE(lapic.has_pending_for_halt());
    lapic.advance(999);
    CHECK_FALSE(lapic.pending());
    lapic.advance(1000);
    CHECK(lapic.has_pending_for_halt());
    CHECK(fired(lapic));
    // Disarmed, the MSR cleared: no second interrupt.
    CHECK(read(lapic, kTscDeadline) == 0);
    CHECK_FALSE(lapic.next_deadline());
    lapic.advance(2000);
    CHECK_FALSE(fired(lapic));
}

TEST_CASE("lapic timer: writing 0 disarms, a new value moves the deadline", "[lapic][timer]")
{
    Lapic lapic = deadline_lapic();
    lapic.set_tsc_deadline(500);
    lapic.set_tsc_deadline(0);
    CHECK_FALSE(lapic.next_deadline());
    lapic.advance(600);
    CHECK_FALSE(fired(lapic));

    lapic.set_tsc_deadline(2000);
    lapic.set_tsc_deadline(800);  // earlier
    CHECK(lapic.next_deadline() == 800);
    lapic.set_tsc_deadline(3000);  // later
    lapic.advance(2500);
    CHECK_FALSE(fired(lapic));
    lapic.advance(3100);  // late is fine: fires at the first look
    CHECK(fired(lapic));
}

TEST_CASE("lapic timer: a deadline already passed fires at once", "[lapic][timer]")
{
    Lapic lapic = deadline_lapic();
    lapic.advance(5000);
    write(lapic, kTscDeadline, 4000);
    CHECK(fired(lapic));
    CHECK(read(lapic, kTscDeadline) == 0);
    // Time never moves back: an older "now" changes nothing.
    lapic.advance(10);
    write(lapic, kTscDeadline, 4500);
    CHECK(fired(lapic));
}

TEST_CASE("lapic timer: a masked deadline expires without an interrupt", "[lapic][timer]")
{
    Lapic lapic = enabled_lapic();
    write(lapic, kLvtTimer, kDeadlineMode | kMasked | kVector);
    lapic.set_tsc_deadline(1000);
    CHECK(lapic.tsc_deadline() == 1000);
    CHECK_FALSE(lapic.next_deadline());  // nothing to wake up for
    lapic.advance(1500);
    CHECK_FALSE(lapic.pending());
    CHECK(lapic.tsc_deadline() == 0);
    write(lapic, kLvtTimer, kDeadlineMode | kVector);  // unmasking does not replay it
    CHECK_FALSE(lapic.pending());

    // Armed while masked, unmasked before it expires: it fires.
    write(lapic, kLvtTimer, kDeadlineMode | kMasked | kVector);
    lapic.set_tsc_deadline(2000);
    write(lapic, kLvtTimer, kDeadlineMode | kVector);
    CHECK(lapic.next_deadline() == 2000);
    lapic.advance(2000);
    CHECK(fired(lapic));
}

TEST_CASE("lapic timer: changing the timer mode disarms it", "[lapic][timer]")
{
    Lapic lapic = deadline_lapic();
    lapic.set_tsc_deadline(1000);
    write(lapic, kLvtTimer, kDeadlineMode | kMasked | kVector);  // same mode: armed
    CHECK(lapic.tsc_deadline() == 1000);
    write(lapic, kLvtTimer, kVector);  // one-shot
    CHECK_FALSE(lapic.next_deadline());
    write(lapic, kLvtTimer, kDeadlineMode | kVector);
    CHECK(lapic.tsc_deadline() == 0);
    lapic.advance(2000);
    CHECK_FALSE(fired(lapic));

    // Software disable masks the timer.
    lapic.set_tsc_deadline(3000);
    write(lapic, kSvr, 0xFF);
    CHECK_FALSE(lapic.next_deadline());
}

TEST_CASE("lapic timer: the count registers are inert in TSC-deadline mode", "[lapic][timer]")
{
    Lapic lapic = enabled_lapic(1, 10);
    write(lapic, kLvtTimer, kDeadlineMode | kVector);
    write(lapic, kInitialCount, 100);
    CHECK(read(lapic, kInitialCount) == 0);
    CHECK(read(lapic, kCurrentCount) == 0);
    CHECK_FALSE(lapic.next_deadline());
}

TEST_CASE("lapic timer: an illegal timer vector sets ESR instead", "[lapic][timer]")
{
    Lapic lapic = enabled_lapic();
    write(lapic, kLvtTimer, kDeadlineMode | 0x0E);
    lapic.set_tsc_deadline(10);
    lapic.advance(10);
    CHECK_FALSE(lapic.pending());
    CHECK(latched_esr(lapic) == 0x40);
}

TEST_CASE("lapic timer: one-shot counts down at TSC ratio times divider", "[lapic][timer]")
{
    Lapic lapic = enabled_lapic(1, 10);  // 10 TSC ticks per bus clock
    write(lapic, kLvtTimer, kVector);
    write(lapic, kDivideConfig, kDivideBy1);
    lapic.advance(1000);
    write(lapic, kInitialCount, 100);
    CHECK(read(lapic, kInitialCount) == 100);
    CHECK(read(lapic, kCurrentCount) == 100);
    CHECK(lapic.next_deadline() == 2000);
    lapic.advance(1250);
    CHECK(read(lapic, kCurrentCount) == 75);
    lapic.advance(1999);
    CHECK(read(lapic, kCurrentCount) == 1);
    CHECK_FALSE(fired(lapic));
    lapic.advance(2000);
    CHECK(fired(lapic));
    CHECK(read(lapic, kCurrentCount) == 0);
    CHECK_FALSE(lapic.next_deadline());

    // Divide by 2 (the reset value): twice as slow. 0 stops the count.
    write(lapic, kDivideConfig, 0);
    write(lapic, kInitialCount, 100);
    CHECK(lapic.next_deadline() == 4000);
    write(lapic, kInitialCount, 0);
    CHECK_FALSE(lapic.next_deadline());
    CHECK(read(lapic, kCurrentCount) == 0);
    // Divide by 128 (1010b).
    write(lapic, kDivideConfig, 0xA);
    write(lapic, kInitialCount, 1);
    CHECK(lapic.next_deadline() == 2000 + 1280);
}

TEST_CASE("lapic timer: periodic reloads and coalesces missed periods", "[lapic][timer]")
{
    Lapic lapic = enabled_lapic(1, 1);
    write(lapic, kLvtTimer, kPeriodic | kVector);
    write(lapic, kDivideConfig, kDivideBy1);
    write(lapic, kInitialCount, 10);
    CHECK(lapic.next_deadline() == 10);
    lapic.advance(10);
    CHECK(fired(lapic));
    CHECK(lapic.next_deadline() == 20);
    CHECK(read(lapic, kCurrentCount) == 10);
    lapic.advance(35);  // 20 and 30 passed unseen: one interrupt
    CHECK(fired(lapic));
    CHECK_FALSE(fired(lapic));
    CHECK(lapic.next_deadline() == 40);
    CHECK(read(lapic, kCurrentCount) == 5);
    // Switching to one-shot disarms.
    write(lapic, kLvtTimer, kVector);
    CHECK_FALSE(lapic.next_deadline());
    CHECK(read(lapic, kCurrentCount) == 0);
}

TEST_CASE("lapic timer: without a bus ratio the count registers are inert", "[lapic][timer]")
{
    Lapic lapic = enabled_lapic();
    write(lapic, kLvtTimer, kPeriodic | kVector);
    write(lapic, kInitialCount, 100);
    CHECK(read(lapic, kInitialCount) == 100);
    CHECK(read(lapic, kCurrentCount) == 0);
    CHECK_FALSE(lapic.next_deadline());
    lapic.advance(1'000'000);
    CHECK_FALSE(fired(lapic));
}

TEST_CASE("lapic timer: huge counts saturate instead of wrapping", "[lapic][timer]")
{
    Lapic lapic = enabled_lapic(1, 0xFFFF'FFFF);
    write(lapic, kLvtTimer, kVector);
    write(lapic, kDivideConfig, 0xA);  // by 128
    lapic.advance(0xFFFF'FFFF'0000'0000);
    write(lapic, kInitialCount, 0xFFFF'FFFF);
    CHECK(lapic.next_deadline() == 0xFFFF'FFFF'FFFF'FFFF);
    CHECK(read(lapic, kCurrentCount) == 0xFFFF'FFFF);
}

TEST_CASE("lapic timer: INIT disarms the timer", "[lapic][timer]")
{
    Lapic lapic = deadline_lapic();
    lapic.set_tsc_deadline(1000);
    lapic.init_reset();
    CHECK_FALSE(lapic.next_deadline());
    CHECK(lapic.tsc_deadline() == 0);
}
