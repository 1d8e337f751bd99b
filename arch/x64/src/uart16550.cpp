// SPDX-License-Identifier: MIT
#include <arch/x64/port_io.hpp>
#include <arch/x64/uart16550.hpp>

namespace boxy::x64 {
namespace {

// 16550 register offsets and bits (National Semiconductor PC16550D data
// sheet, table II).
constexpr std::uint16_t kTransmit = 0;         // THR, DLAB=0
constexpr std::uint16_t kDivisorLow = 0;       // DLL, DLAB=1
constexpr std::uint16_t kInterruptEnable = 1;  // IER, DLAB=0
constexpr std::uint16_t kDivisorHigh = 1;      // DLM, DLAB=1
constexpr std::uint16_t kFifoControl = 2;      // FCR
constexpr std::uint16_t kLineControl = 3;      // LCR
constexpr std::uint16_t kModemControl = 4;     // MCR
constexpr std::uint16_t kLineStatus = 5;       // LSR

constexpr std::uint8_t kLcrDlab = 0x80;
constexpr std::uint8_t kLcr8N1 = 0x03;
constexpr std::uint8_t kLsrTransmitEmpty = 0x20;  // THRE
constexpr std::uint16_t kDivisor115200 = 1;

// Enough for one character at 9600 baud with generous margin; a stuck or
// absent UART costs at most this many polls per character.
constexpr unsigned kMaxPolls = 100000;

}  // namespace

bool Uart16550::init()
{
    // An absent device on the ISA bus reads as all ones.
    if (inb(reg(kLineStatus)) == 0xFF) {
        present_ = false;
        return false;
    }
    const std::uint8_t lcr = inb(reg(kLineControl));
    outb(reg(kLineControl), static_cast<std::uint8_t>(lcr | kLcrDlab));
    const unsigned divisor = inb(reg(kDivisorLow)) | (inb(reg(kDivisorHigh)) << 8);
    outb(reg(kLineControl), lcr);
    if (divisor == 0) {
        outb(reg(kInterruptEnable), 0);
        outb(reg(kLineControl), kLcrDlab);
        outb(reg(kDivisorLow), kDivisor115200 & 0xFF);
        outb(reg(kDivisorHigh), kDivisor115200 >> 8);
        outb(reg(kLineControl), kLcr8N1);
        outb(reg(kFifoControl), 0x07);   // enable, clear FIFOs
        outb(reg(kModemControl), 0x03);  // DTR, RTS
    }
    present_ = true;
    return true;
}

void Uart16550::put(char c)
{
    for (unsigned i = 0; i < kMaxPolls; ++i) {
        if ((inb(reg(kLineStatus)) & kLsrTransmitEmpty) != 0) {
            outb(reg(kTransmit), static_cast<std::uint8_t>(c));
            return;
        }
        cpu_relax();
    }
    // Transmitter never drained: stop using it rather than slow every write.
    present_ = false;
}

void Uart16550::write(std::string_view text)
{
    for (char c : text) {
        if (!present_) {
            return;
        }
        if (c == '\n') {
            put('\r');
        }
        put(c);
    }
}

}  // namespace boxy::x64
