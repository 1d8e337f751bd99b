// SPDX-License-Identifier: MIT
#include "power.hpp"

#include "acpi.hpp"

#include <utility>

namespace boxy::vm {

PowerControl::PowerControl(std::function<void(PowerEvent)> on_event)
    : on_event_{std::move(on_event)}
{
}

std::uint32_t PowerControl::port_read(std::uint16_t port, std::uint32_t width)
{
    if (width != 1) {
        ++ignored_accesses_;
        return static_cast<std::uint32_t>(all_ones(width));
    }
    switch (port) {
        case kResetPort: return reset_control_;
        // SLP_EN reads as 0 (4.8.3.7); WAK_STS never sets (4.8.3.8).
        case kSleepControlPort:
        case kSleepStatusPort: return 0;
        default: ++ignored_accesses_; return 0xFF;
    }
}

void PowerControl::port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value)
{
    // Chipsets decode 0xCF9 for byte accesses only: a 32-bit access at
    // 0xCF8 is the PCI configuration address and never lands here.
    if (width != 1) {
        ++ignored_accesses_;
        return;
    }
    const auto byte = static_cast<std::uint8_t>(value);
    switch (port) {
        case kResetPort:
            reset_control_ = byte & kResetControlMask;
            if ((byte & kResetCpu) != 0 && on_event_) {
                on_event_(PowerEvent::reset);
            }
            return;
        case kSleepControlPort: {
            const auto type = static_cast<std::uint8_t>((byte & kSleepTypeMask) >> kSleepTypeShift);
            if ((byte & kSleepEnable) != 0 && type == kSleepTypeS5 && on_event_) {
                on_event_(PowerEvent::power_off);
                return;
            }
            ++ignored_accesses_;  // another sleep state, or SLP_EN clear
            return;
        }
        case kSleepStatusPort: return;  // write 1 to clear WAK_STS: it is clear
        default: ++ignored_accesses_; return;
    }
}

}  // namespace boxy::vm
