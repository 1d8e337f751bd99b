// SPDX-License-Identifier: MIT
//
// The I/O APIC through its register interface (IOREGSEL/IOWIN, as a guest
// driver programs it) and its pins, against the 82093AA datasheet.
#include "ioapic.hpp"

#include "fakes.hpp"

#include <catch2/catch.hpp>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::vm::test::FakeSink;
using boxy::vm::test::Injection;

namespace {

constexpr std::uint64_t kLevel = 1ULL << 15;
constexpr std::uint64_t kMasked = 1ULL << 16;
constexpr std::uint64_t kLogical = 1ULL << 11;
constexpr std::uint64_t kRemoteIrr = 1ULL << 14;

struct Guest {
    FakeSink sink;
    IoApic ioapic{sink, 4, 4};

    std::uint32_t read_register(std::uint8_t index)
    {
        ioapic.mmio_write(IoApic::kRegisterSelect, 4, index);
        return static_cast<std::uint32_t>(ioapic.mmio_read(IoApic::kWindow, 4));
    }
    void write_register(std::uint8_t index, std::uint32_t value)
    {
        ioapic.mmio_write(IoApic::kRegisterSelect, 4, index);
        ioapic.mmio_write(IoApic::kWindow, 4, value);
    }
    // Programs pin `pin` as Linux does: high word (destination) first.
    void route(std::uint32_t pin, std::uint64_t entry)
    {
        write_register(static_cast<std::uint8_t>(0x10 + 2 * pin + 1),
                       static_cast<std::uint32_t>(entry >> 32));
        write_register(static_cast<std::uint8_t>(0x10 + 2 * pin),
                       static_cast<std::uint32_t>(entry));
    }
    std::uint64_t entry(std::uint32_t pin)
    {
        const std::uint64_t low = read_register(static_cast<std::uint8_t>(0x10 + 2 * pin));
        const std::uint64_t high = read_register(static_cast<std::uint8_t>(0x10 + 2 * pin + 1));
        return low | (high << 32);
    }
};

std::uint64_t to_vcpu(std::uint64_t vcpu)
{
    return vcpu << 56;
}

}  // namespace

TEST_CASE("ioapic: identification registers and reset state", "[ioapic]")
{
    Guest g;
    CHECK(g.read_register(0x00) == 4U << 24);     // ID
    CHECK(g.read_register(0x01) == 0x0017'0020);  // 24 entries, version 0x20
    CHECK(g.read_register(0x02) == 4U << 24);     // arbitration ID
    for (std::uint32_t pin = 0; pin < IoApic::kPins; ++pin) {
        CHECK(g.entry(pin) == kMasked);
    }
    g.write_register(0x00, 0x0B00'0000);
    CHECK(g.read_register(0x00) == 0x0B00'0000);
    g.write_register(0x01, 0);  // read-only
    CHECK(g.read_register(0x01) == 0x0017'0020);
    g.ioapic.mmio_write(IoApic::kRegisterSelect, 4, 0x13);
    CHECK(g.ioapic.mmio_read(IoApic::kRegisterSelect, 4) == 0x13);
}

TEST_CASE("ioapic: edge pins deliver on a rising edge only", "[ioapic]")
{
    Guest g;
    g.route(1, 0x31 | to_vcpu(2));
    g.ioapic.set_level(1, true);
    g.ioapic.set_level(1, true);  // still high: no new edge
    g.ioapic.set_level(1, false);
    g.ioapic.set_level(1, true);
    CHECK(g.sink.take() == std::vector<Injection>{{2, 0x31, false}, {2, 0x31, false}});
    CHECK_FALSE(g.entry(1) & kRemoteIrr);
    g.ioapic.end_of_interrupt(0x31);  // edge: nothing to re-deliver
    CHECK(g.sink.take().empty());
}

TEST_CASE("ioapic: masked pins are not delivered", "[ioapic]")
{
    Guest g;
    g.route(1, 0x31 | kMasked);
    g.ioapic.set_level(1, true);
    g.ioapic.set_level(1, false);
    CHECK(g.sink.take().empty());
    CHECK(g.ioapic.stats().lost_while_masked == 1);
    g.route(1, 0x31);  // an edge that came while masked stays lost
    CHECK(g.sink.take().empty());

    g.route(5, 0x45 | kLevel | kMasked);
    g.ioapic.set_level(5, true);
    CHECK(g.sink.take().empty());
    g.route(5, 0x45 | kLevel);  // unmasked while asserted: delivered now
    CHECK(g.sink.take() == std::vector<Injection>{{0, 0x45, true}});
}

TEST_CASE("ioapic: level pins: remote IRR, EOI and re-delivery", "[ioapic]")
{
    Guest g;
    g.route(5, 0x45 | kLevel | to_vcpu(1));
    g.ioapic.set_level(5, true);
    CHECK(g.sink.take() == std::vector<Injection>{{1, 0x45, true}});
    CHECK(g.entry(5) & kRemoteIrr);

    g.ioapic.set_level(5, true);  // in service: not again
    CHECK(g.sink.take().empty());
    g.ioapic.end_of_interrupt(0x46);  // another vector
    CHECK(g.sink.take().empty());

    g.ioapic.end_of_interrupt(0x45);  // still asserted: delivered again
    CHECK(g.sink.take() == std::vector<Injection>{{1, 0x45, true}});

    g.ioapic.set_level(5, false);  // the guest serviced the device
    g.ioapic.end_of_interrupt(0x45);
    CHECK(g.sink.take().empty());
    CHECK_FALSE(g.entry(5) & kRemoteIrr);

    // The EOI register (I/O(x)APIC version 0x20) does the same.
    g.ioapic.set_level(5, true);
    CHECK(g.sink.take().size() == 1);
    g.ioapic.mmio_write(IoApic::kEoi, 4, 0x45);
    CHECK(g.sink.take().size() == 1);
}

TEST_CASE("ioapic: one EOI serves every level pin with its vector", "[ioapic]")
{
    Guest g;
    g.route(6, 0x50 | kLevel);
    g.route(7, 0x50 | kLevel);
    g.ioapic.set_level(6, true);
    g.ioapic.set_level(7, true);
    CHECK(g.sink.take().size() == 2);
    g.ioapic.set_level(6, false);
    g.ioapic.end_of_interrupt(0x50);
    CHECK(g.sink.take() == std::vector<Injection>{{0, 0x50, true}});  // pin 7 only
    CHECK_FALSE(g.entry(6) & kRemoteIrr);
    CHECK(g.entry(7) & kRemoteIrr);
}

TEST_CASE("ioapic: the guest cannot write remote IRR or delivery status", "[ioapic]")
{
    Guest g;
    g.route(5, 0x45 | kLevel | kRemoteIrr | (1ULL << 12));
    CHECK((g.entry(5) & (kRemoteIrr | (1ULL << 12))) == 0);
    g.ioapic.set_level(5, true);
    CHECK((g.entry(5) & kRemoteIrr) != 0);
    g.route(5, 0x45 | kLevel);  // writing back without the bit keeps it
    CHECK((g.entry(5) & kRemoteIrr) != 0);
    CHECK(g.sink.take().size() == 1);
    g.route(5, 0x45);  // switched to edge: remote IRR is meaningless, cleared
    CHECK((g.entry(5) & kRemoteIrr) == 0);
}

TEST_CASE("ioapic: destinations: physical, logical, broadcast, none", "[ioapic]")
{
    Guest g;
    SECTION("physical: one vCPU by APIC ID")
    {
        g.route(1, 0x30 | to_vcpu(3));
        g.ioapic.set_level(1, true);
        CHECK(g.sink.take() == std::vector<Injection>{{3, 0x30, false}});
    }
    SECTION("physical: an APIC ID beyond the vCPUs")
    {
        g.route(1, 0x30 | to_vcpu(4));
        g.ioapic.set_level(1, true);
        CHECK(g.sink.take().empty());
        CHECK(g.ioapic.stats().no_destination == 1);
    }
    SECTION("physical broadcast")
    {
        g.route(1, 0x30 | to_vcpu(0xFF));
        g.ioapic.set_level(1, true);
        CHECK(g.sink.take().size() == 4);
    }
    SECTION("logical: a bitmap of vCPUs; bits beyond them ignored")
    {
        g.route(1, 0x30 | kLogical | to_vcpu(0b1001'0110));
        g.ioapic.set_level(1, true);
        CHECK(g.sink.take() == std::vector<Injection>{{1, 0x30, false}, {2, 0x30, false}});
    }
    SECTION("logical: no vCPU named")
    {
        g.route(1, 0x30 | kLogical | to_vcpu(0xF0));
        g.ioapic.set_level(1, true);
        CHECK(g.sink.take().empty());
        CHECK(g.ioapic.stats().no_destination == 1);
    }
    SECTION("lowest priority: the first vCPU named")
    {
        g.route(1, 0x30 | (1U << 8) | kLogical | to_vcpu(0b1100));
        g.ioapic.set_level(1, true);
        CHECK(g.sink.take() == std::vector<Injection>{{2, 0x30, false}});
    }
}

TEST_CASE("ioapic: undeliverable entries are counted, not injected", "[ioapic]")
{
    Guest g;
    for (const std::uint64_t mode : {2U, 4U, 5U, 7U, 3U, 6U}) {  // SMI NMI INIT ExtINT reserved
        g.route(2, 0x40 | (mode << 8));
        g.ioapic.set_level(2, true);
        g.ioapic.set_level(2, false);
    }
    CHECK(g.ioapic.stats().unsupported_delivery == 6);
    g.route(2, 0x0E);  // an exception vector
    g.ioapic.set_level(2, true);
    CHECK(g.ioapic.stats().bad_vector == 1);
    CHECK(g.sink.take().empty());
}

TEST_CASE("ioapic: a refused injection leaves a level pin deliverable", "[ioapic]")
{
    Guest g;
    g.sink.refuse = true;
    g.route(5, 0x45 | kLevel);
    g.ioapic.set_level(5, true);
    CHECK(g.ioapic.stats().inject_failures == 1);
    CHECK((g.entry(5) & kRemoteIrr) == 0);  // no EOI will come for it
    g.sink.refuse = false;
    g.route(5, 0x45 | kLevel);  // any later change retries
    CHECK(g.sink.take().size() == 1);
}

TEST_CASE("ioapic: malformed accesses are ignored", "[ioapic][malformed]")
{
    Guest g;
    CHECK(g.ioapic.mmio_read(IoApic::kWindow, 1) == 0xFFFF'FFFF);
    CHECK(g.ioapic.mmio_read(IoApic::kWindow, 8) == 0xFFFF'FFFF);
    CHECK(g.ioapic.mmio_read(0x20, 4) == 0xFFFF'FFFF);
    CHECK(g.ioapic.mmio_read(IoApic::kEoi, 4) == 0xFFFF'FFFF);  // write-only
    CHECK(g.ioapic.mmio_read(0xFFC, 4) == 0xFFFF'FFFF);
    g.ioapic.mmio_write(0x14, 4, 0x1234);
    g.ioapic.mmio_write(IoApic::kWindow, 2, 0x1234);
    CHECK(g.read_register(0x03) == 0);  // no such register
    CHECK(g.read_register(0x40) == 0);  // past the 24 entries
    g.write_register(0x40, 0xFFFF'FFFF);
    g.write_register(0xFF, 0xFFFF'FFFF);
    CHECK(g.ioapic.stats().bad_access >= 9);
    g.ioapic.set_level(24, true);  // a pin that does not exist
    g.ioapic.set_level(0xFFFF'FFFF, true);
    CHECK(g.ioapic.stats().bad_pin == 2);
    for (std::uint32_t pin = 0; pin < IoApic::kPins; ++pin) {
        CHECK(g.entry(pin) == kMasked);
    }
    CHECK(g.sink.take().empty());
}
