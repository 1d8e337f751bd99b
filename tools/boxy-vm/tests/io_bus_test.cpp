// SPDX-License-Identifier: MIT
#include "io_bus.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity

namespace {

struct Access {
    std::uint64_t where;
    std::uint32_t width;
    std::uint64_t value;
    bool operator==(const Access&) const = default;
};

class RecordingDevice final : public PortDevice, public MmioDevice {
public:
    std::uint32_t port_read(std::uint16_t port, std::uint32_t width) override
    {
        reads.push_back({port, width, 0});
        return 0xA5A5'A5A5;
    }
    void port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value) override
    {
        writes.push_back({port, width, value});
    }
    std::uint64_t mmio_read(std::uint64_t offset, std::uint32_t width) override
    {
        reads.push_back({offset, width, 0});
        return 0x1122'3344'5566'7788;
    }
    void mmio_write(std::uint64_t offset, std::uint32_t width, std::uint64_t value) override
    {
        writes.push_back({offset, width, value});
    }
    std::vector<Access> reads;
    std::vector<Access> writes;
};

}  // namespace

TEST_CASE("io bus: ports reach their device with the absolute port", "[io_bus]")
{
    std::vector<std::string> log;
    IoBus bus{[&](const std::string& line) { log.push_back(line); }};
    RecordingDevice uart;
    RecordingDevice keyboard;
    REQUIRE(bus.add_ports(0x3F8, 8, uart));
    REQUIRE(bus.add_ports(0x60, 1, keyboard));
    REQUIRE(bus.add_ports(0x64, 1, keyboard));
    CHECK_FALSE(bus.add_ports(0x3FF, 2, uart));   // overlaps
    CHECK_FALSE(bus.add_ports(0xFFFF, 2, uart));  // wraps the port space
    CHECK_FALSE(bus.add_ports(0x100, 0, uart));   // empty

    CHECK(bus.port_read(0x3FD, 1) == 0xA5);  // trimmed to the width
    bus.port_write(0x3F8, 1, 0x1234'5641);
    bus.port_write(0x64, 1, 0xFE);
    CHECK(uart.reads == std::vector<Access>{{0x3FD, 1, 0}});
    CHECK(uart.writes == std::vector<Access>{{0x3F8, 1, 0x41}});
    CHECK(keyboard.writes == std::vector<Access>{{0x64, 1, 0xFE}});
    CHECK(log.empty());
}

TEST_CASE("io bus: MMIO reaches its device with the offset, whole accesses only", "[io_bus]")
{
    IoBus bus{nullptr};
    RecordingDevice ioapic;
    REQUIRE(bus.add_mmio(0xFEC0'0000, 0x1000, ioapic));
    CHECK_FALSE(bus.add_mmio(0xFEC0'0800, 0x1000, ioapic));
    CHECK_FALSE(bus.add_mmio(~0ULL - 4, 0x10, ioapic));
    CHECK_FALSE(bus.add_mmio(0x1000, 0, ioapic));

    CHECK(bus.mmio_read(0xFEC0'0010, 4) == 0x5566'7788);
    bus.mmio_write(0xFEC0'0FF8, 8, 0xDEAD'BEEF'0000'0001);
    CHECK(ioapic.reads == std::vector<Access>{{0x10, 4, 0}});
    CHECK(ioapic.writes == std::vector<Access>{{0xFF8, 8, 0xDEAD'BEEF'0000'0001}});
    // Straddling the end of the range: nobody's.
    CHECK(bus.mmio_read(0xFEC0'0FFC, 8) == ~0ULL);
    CHECK(bus.stats().unknown_mmio_reads == 1);
    CHECK(ioapic.reads.size() == 1);
}

TEST_CASE("io bus: unknown accesses read as all ones and are counted", "[io_bus]")
{
    IoBus bus{nullptr};
    CHECK(bus.port_read(0x80, 1) == 0xFF);
    CHECK(bus.port_read(0x80, 2) == 0xFFFF);
    CHECK(bus.port_read(0xCF8, 4) == 0xFFFF'FFFF);
    bus.port_write(0x80, 1, 0x12);
    CHECK(bus.mmio_read(0xE000'0000, 1) == 0xFF);
    CHECK(bus.mmio_read(0xE000'0000, 8) == ~0ULL);
    bus.mmio_write(0xE000'0000, 4, 0);
    CHECK(bus.stats().unknown_port_reads == 3);
    CHECK(bus.stats().unknown_port_writes == 1);
    CHECK(bus.stats().unknown_mmio_reads == 2);
    CHECK(bus.stats().unknown_mmio_writes == 1);
}

TEST_CASE("io bus: bad widths are refused before any device", "[io_bus][malformed]")
{
    IoBus bus{nullptr};
    RecordingDevice device;
    REQUIRE(bus.add_ports(0x3F8, 8, device));
    REQUIRE(bus.add_mmio(0xD000'0000, 0x1000, device));
    for (const std::uint32_t width : {0U, 3U, 5U, 8U, 16U, 255U}) {
        CHECK(bus.port_read(0x3F8, width) == 0);
        bus.port_write(0x3F8, width, 1);
    }
    for (const std::uint32_t width : {0U, 3U, 6U, 7U, 9U, 16U}) {
        CHECK(bus.mmio_read(0xD000'0000, width) == 0);
        bus.mmio_write(0xD000'0000, width, 1);
    }
    CHECK(device.reads.empty());
    CHECK(device.writes.empty());
    CHECK(bus.stats().bad_width == 24);
}

TEST_CASE("io bus: unknown-access logging is rate limited", "[io_bus]")
{
    std::vector<std::string> log;
    IoBus bus{[&](const std::string& line) { log.push_back(line); }};
    for (int i = 0; i < 10; ++i) {
        (void)bus.port_read(0x80, 1);
    }
    REQUIRE(log.size() == IoBus::kLogsPerAddress);
    CHECK(log[0].find("0x80") != std::string::npos);
    CHECK(log.back().find("only counted") != std::string::npos);
    CHECK(bus.stats().unknown_port_reads == 10);

    // Same page: one limit; many ports and pages: a global limit.
    log.clear();
    for (std::uint64_t i = 0; i < 10; ++i) {
        bus.mmio_write(0xE000'0000 + 8 * i, 8, i);
    }
    CHECK(log.size() == IoBus::kLogsPerAddress);
    for (std::uint32_t port = 0x100; port < 0x400; ++port) {
        (void)bus.port_read(static_cast<std::uint16_t>(port), 1);
    }
    for (std::uint64_t page = 0; page < 5000; ++page) {
        (void)bus.mmio_read(page << 12, 4);
    }
    CHECK(log.size() == IoBus::kMaxLogLines - IoBus::kLogsPerAddress);
    CHECK(log.back().find("log limit") != std::string::npos);
    CHECK(bus.stats().unknown_mmio_reads == 5000);
}
