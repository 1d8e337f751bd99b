// SPDX-License-Identifier: MIT
//
// The platform's reset and power-off registers, the ones acpi.cpp declares:
//   - 0xCF9, the PC reset control register, which is also the FADT's
//     RESET_REG: a byte write with RST_CPU (bit 2) set resets;
//   - the FADT's SLEEP_CONTROL_REG: SLP_EN with SLP_TYPx = the \_S5 value
//     powers off (ACPI 6.5, 4.8.3.7); other sleep states are not offered
//     (the DSDT declares only \_S5) and are ignored;
//   - the FADT's SLEEP_STATUS_REG: WAK_STS never sets (4.8.3.8).
// A VM cannot be reset in place: both end the VM, and the caller records
// which one it was. Byte accesses only; others are counted and ignored.
// Not thread-safe: the caller serialises (machine.hpp's lock).
#pragma once

#include "io_bus.hpp"

#include <cstdint>
#include <functional>

namespace boxy::vm {

enum class PowerEvent : std::uint8_t { power_off, reset };

class PowerControl final : public PortDevice {
public:
    static constexpr std::uint8_t kResetCpu = 0x04;          // 0xCF9 bit 2: RST_CPU
    static constexpr std::uint8_t kResetControlMask = 0x0E;  // SYS_RST, RST_CPU, FULL_RST

    explicit PowerControl(std::function<void(PowerEvent)> on_event);

    [[nodiscard]] std::uint32_t port_read(std::uint16_t port, std::uint32_t width) override;
    void port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value) override;

    [[nodiscard]] std::uint64_t ignored_accesses() const { return ignored_accesses_; }

private:
    std::function<void(PowerEvent)> on_event_;
    std::uint8_t reset_control_{0};
    std::uint64_t ignored_accesses_{0};
};

}  // namespace boxy::vm
