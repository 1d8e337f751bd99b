// SPDX-License-Identifier: MIT
//
// Polled 16550 UART output, for the serial log that every test reads. The
// loader and the VMM both write COM1 through this; it never blocks forever:
// a missing UART (reads as 0xFF) or a stuck transmitter drops output instead
// of hanging the boot.
#pragma once

#include <cstdint>
#include <string_view>

namespace boxy::x64 {

class Uart16550 {
public:
    static constexpr std::uint16_t kCom1 = 0x3F8;

    explicit constexpr Uart16550(std::uint16_t base = kCom1) : base_{base} {}

    // Detects the UART. Leaves the line settings alone when the firmware has
    // programmed them already (a non-zero divisor), else sets 115200 8N1.
    bool init();
    [[nodiscard]] bool present() const { return present_; }

    // Writes text, turning "\n" into "\r\n" for terminals.
    void write(std::string_view text);

private:
    void put(char c);
    [[nodiscard]] constexpr std::uint16_t reg(std::uint16_t offset) const
    {
        return static_cast<std::uint16_t>(base_ + offset);
    }

    std::uint16_t base_;
    bool present_{false};
};

}  // namespace boxy::x64
