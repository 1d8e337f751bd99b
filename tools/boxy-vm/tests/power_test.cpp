// SPDX-License-Identifier: MIT
#include "power.hpp"

#include "acpi.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity

namespace {

struct Board {
    std::vector<PowerEvent> events;
    PowerControl power{[this](PowerEvent event) { events.push_back(event); }};
};

}  // namespace

TEST_CASE("power: the ACPI S5 write powers off", "[power]")
{
    Board b;
    // What ACPICA's acpi_hw_extended_sleep writes: WAK_STS to the status
    // register, then SLP_TYP << 2 | SLP_EN to the control register.
    b.power.port_write(kSleepStatusPort, 1, kWakeStatus);
    CHECK(b.events.empty());
    CHECK(b.power.port_read(kSleepStatusPort, 1) == 0);
    b.power.port_write(kSleepControlPort, 1, (kSleepTypeS5 << kSleepTypeShift) | kSleepEnable);
    CHECK(b.events == std::vector<PowerEvent>{PowerEvent::power_off});
}

TEST_CASE("power: other sleep states and SLP_EN clear do nothing", "[power]")
{
    Board b;
    for (std::uint32_t type = 0; type < 8; ++type) {
        if (type != kSleepTypeS5) {
            b.power.port_write(kSleepControlPort, 1, (type << kSleepTypeShift) | kSleepEnable);
        }
        b.power.port_write(kSleepControlPort, 1, type << kSleepTypeShift);  // no SLP_EN
    }
    CHECK(b.events.empty());
    CHECK(b.power.ignored_accesses() == 15);
}

TEST_CASE("power: the reset register and 0xCF9", "[power]")
{
    Board b;
    b.power.port_write(kResetPort, 1, 0x02);  // SYS_RST alone: prepares, no reset
    CHECK(b.events.empty());
    CHECK(b.power.port_read(kResetPort, 1) == 0x02);
    b.power.port_write(kResetPort, 1, kResetValue);  // the FADT's RESET_VALUE
    CHECK(b.events == std::vector<PowerEvent>{PowerEvent::reset});
    b.power.port_write(kResetPort, 1, 0x0E);  // full reset (reboot=pci's 0x0E)
    CHECK(b.events.size() == 2);
}

TEST_CASE("power: wide accesses never reset (0xCF8 is PCI's)", "[power][malformed]")
{
    Board b;
    b.power.port_write(kResetPort, 2, 0x0606);
    b.power.port_write(kResetPort, 4, 0xFFFF'FFFF);
    b.power.port_write(kSleepControlPort, 2, 0x3434);
    CHECK(b.power.port_read(kResetPort, 4) == 0xFFFF'FFFF);
    CHECK(b.events.empty());
    CHECK(b.power.ignored_accesses() == 4);
}
