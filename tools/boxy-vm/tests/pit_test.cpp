// SPDX-License-Identifier: MIT
#include "pit.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using boxy::vm::PitChannel2;

namespace {

// One PIT tick is 1e9 / 1193182 ns (838.1 ns); whole ticks from here on.
std::uint64_t ns_for_ticks(std::uint64_t ticks)
{
    return (ticks * 1'000'000'000 + PitChannel2::kFrequencyHz - 1) / PitChannel2::kFrequencyHz;
}

struct Pit {
    std::uint64_t now = 5'000'000'000;  // any start
    PitChannel2 pit{[this] { return now; }};

    void out(std::uint16_t port, std::uint8_t value) { pit.port_write(port, 1, value); }
    std::uint8_t in(std::uint16_t port)
    {
        return static_cast<std::uint8_t>(pit.port_read(port, 1));
    }
    std::uint16_t read_word()
    {
        const std::uint8_t lsb = in(PitChannel2::kCounterPort);
        return static_cast<std::uint16_t>(lsb | (in(PitChannel2::kCounterPort) << 8));
    }
    void advance_ticks(std::uint64_t ticks) { now += ns_for_ticks(ticks); }
    bool out2() { return (in(PitChannel2::kPortB)&PitChannel2::kOut2) != 0; }
};

}  // namespace

TEST_CASE("pit: Linux's quick calibration sees the MSB count down in real time", "[pit]")
{
    Pit p;
    // tsc.c: gate high, speaker off; channel 2 mode 0 binary, LSB then MSB.
    p.out(0x61, static_cast<std::uint8_t>((p.in(0x61) & ~0x02) | 0x01));
    p.out(0x43, 0xB0);
    p.out(0x42, 0xFF);
    p.out(0x42, 0xFF);
    CHECK(p.read_word() == 0xFFFF);
    CHECK_FALSE(p.out2());
    p.advance_ticks(256);
    CHECK(p.read_word() == 0xFEFF);
    p.advance_ticks(256 * 10);
    CHECK(p.read_word() >> 8 == 0xF4);
}

TEST_CASE("pit: mode 0 raises OUT2 at terminal count and wraps", "[pit]")
{
    Pit p;
    p.out(0x61, 0x01);
    p.out(0x43, 0xB0);
    p.out(0x42, 100);
    p.out(0x42, 0);
    p.advance_ticks(99);
    CHECK_FALSE(p.out2());
    CHECK(p.read_word() == 1);
    p.advance_ticks(1);
    CHECK(p.out2());
    CHECK(p.read_word() == 0);
    p.advance_ticks(1);
    CHECK(p.read_word() == 0xFFFF);  // counts on after zero
    CHECK(p.out2());                 // and OUT stays high
}

TEST_CASE("pit: the gate pauses mode 0; a count of 0 is 65536", "[pit]")
{
    Pit p;
    p.out(0x43, 0xB0);  // gate still low
    p.out(0x42, 0);
    p.out(0x42, 0);
    p.advance_ticks(1000);
    CHECK(p.read_word() == 0);  // 65536 shows as 0 and has not counted
    p.out(0x61, 0x01);
    p.advance_ticks(10);
    CHECK(p.read_word() == 0x10000 - 10);
    p.out(0x61, 0x00);
    p.advance_ticks(500);
    CHECK(p.read_word() == 0x10000 - 10);
    p.out(0x61, 0x01);
    p.advance_ticks(6);
    CHECK(p.read_word() == 0x10000 - 16);
}

TEST_CASE("pit: counter latch and read-back freeze what the guest reads", "[pit]")
{
    Pit p;
    p.out(0x61, 0x01);
    p.out(0x43, 0xB0);
    p.out(0x42, 0x00);
    p.out(0x42, 0x10);  // 0x1000
    p.advance_ticks(0x10);
    p.out(0x43, 0x80);  // latch channel 2
    p.advance_ticks(0x100);
    CHECK(p.read_word() == 0x0FF0);
    CHECK(p.read_word() == 0x1000 - 0x110);  // live again
    // Read-back of channel 2: status first, then the count.
    p.out(0x43, 0xC8);
    const std::uint8_t status = p.in(0x42);
    CHECK((status & 0x80) == 0);     // OUT low: not at terminal count
    CHECK((status & 0x40) == 0);     // a count is loaded
    CHECK((status & 0x3F) == 0x30);  // LSB/MSB, mode 0, binary
    CHECK(p.read_word() == 0x1000 - 0x110);
}

TEST_CASE("pit: LSB-only and MSB-only access, modes 2 and 3", "[pit]")
{
    Pit p;
    p.out(0x61, 0x01);
    p.out(0x43, 0x94);  // channel 2, LSB only, mode 2
    p.out(0x42, 10);
    p.advance_ticks(3);
    CHECK(p.in(0x42) == 7);
    p.advance_ticks(6);
    CHECK(p.in(0x42) == 1);
    CHECK_FALSE(p.out2());  // mode 2: low for the last count
    p.advance_ticks(1);
    CHECK(p.in(0x42) == 10);  // reloaded
    CHECK(p.out2());

    p.out(0x43, 0xA6);  // channel 2, MSB only, mode 3
    p.out(0x42, 0x01);  // 256
    CHECK(p.out2());
    p.advance_ticks(128);
    CHECK_FALSE(p.out2());  // second half of the square wave
    p.out(0x61, 0x00);
    CHECK(p.out2());  // gate low: stopped with OUT high
}

TEST_CASE("pit: what is not channel 2 is counted and ignored", "[pit]")
{
    Pit p;
    p.out(0x43, 0x34);  // channel 0, mode 2
    p.out(0x43, 0xC2);  // read-back of channel 0 only
    CHECK(p.pit.ignored_accesses() == 2);
    CHECK(p.pit.port_read(0x42, 2) == 0xFFFF);
    p.pit.port_write(0x61, 4, 0x01);
    CHECK(p.pit.ignored_accesses() == 4);
    CHECK(p.in(0x43) == 0xFF);  // write-only
    // Port B keeps its writable bits and reports the refresh toggle.
    p.out(0x61, 0xFF);
    CHECK((p.in(0x61) & 0x0F) == 0x0F);
    const bool refresh = (p.in(0x61) & PitChannel2::kRefresh) != 0;
    p.now += 15'085;
    CHECK(((p.in(0x61) & PitChannel2::kRefresh) != 0) != refresh);
}
