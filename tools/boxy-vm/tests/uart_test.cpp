// SPDX-License-Identifier: MIT
//
// The 16550A as Linux's 8250 driver and earlyprintk use it: probe
// (scratch, IER, loopback, FIFO), console output, THR-empty and
// receive interrupts through IIR and OUT2.
#include "uart.hpp"

#include "fakes.hpp"

#include <catch2/catch.hpp>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::vm::test::FakeConsole;
using boxy::vm::test::FakeLine;

namespace {

constexpr std::uint16_t kBase = 0x3F8;

struct Guest {
    FakeConsole console;
    FakeLine irq;
    Uart uart{kBase, console, irq};

    std::uint8_t in(std::uint16_t offset)
    {
        return static_cast<std::uint8_t>(uart.port_read(kBase + offset, 1));
    }
    void out(std::uint16_t offset, std::uint8_t value)
    {
        uart.port_write(kBase + offset, 1, value);
    }
};

}  // namespace

TEST_CASE("uart: transmitted bytes reach the console at once", "[uart]")
{
    Guest g;
    for (const char c : std::string{"Linux version"}) {
        CHECK((g.in(Uart::kLineStatus)&0x60) == 0x60);  // THRE | TEMT: never busy
        g.out(Uart::kData, static_cast<std::uint8_t>(c));
    }
    CHECK(g.console.take() == "Linux version");
    CHECK_FALSE(g.irq.level);  // interrupts are off after reset
}

TEST_CASE("uart: the divisor latch hides THR and IER", "[uart]")
{
    Guest g;
    g.out(Uart::kLineControl, 0x83);  // DLAB, 8N1
    g.out(Uart::kData, 0x01);         // 115200 baud
    g.out(Uart::kInterruptEnable, 0x00);
    CHECK(g.in(Uart::kData) == 0x01);
    CHECK(g.in(Uart::kInterruptEnable) == 0x00);
    CHECK(g.console.take().empty());
    g.out(Uart::kLineControl, 0x03);
    CHECK(g.in(Uart::kLineControl) == 0x03);
    g.out(Uart::kData, 'x');
    CHECK(g.console.take() == "x");
}

TEST_CASE("uart: Linux's 8250 probe sees a 16550A", "[uart]")
{
    Guest g;
    // Scratch register.
    g.out(Uart::kScratch, 0xA5);
    CHECK(g.in(Uart::kScratch) == 0xA5);
    // IER test (autoconfig): writes 0 then 0x0F and reads them back.
    g.out(Uart::kInterruptEnable, 0);
    CHECK((g.in(Uart::kInterruptEnable)&0x0F) == 0);
    g.out(Uart::kInterruptEnable, 0xFF);
    CHECK(g.in(Uart::kInterruptEnable) == 0x0F);
    g.out(Uart::kInterruptEnable, 0);
    // Loopback: MCR = LOOP | OUT2 | RTS gives MSR = DCD | CTS.
    g.out(Uart::kModemControl, 0x10 | 0x0A);
    CHECK((g.in(Uart::kModemStatus)&0xF0) == 0x90);
    g.out(Uart::kData, 0x5A);  // loops back, nothing leaves
    CHECK((g.in(Uart::kLineStatus)&0x01) == 0x01);
    CHECK(g.in(Uart::kData) == 0x5A);
    CHECK(g.console.take().empty());
    g.out(Uart::kModemControl, 0x03);
    CHECK((g.in(Uart::kModemStatus)&0xF0) == 0xB0);  // DCD, DSR, CTS: a terminal
    // FIFO: enabling it shows in IIR bits 7:6; no 64-byte FIFO (bit 5).
    g.out(Uart::kInterruptId, 0x01);
    CHECK((g.in(Uart::kInterruptId)&0xE0) == 0xC0);
    g.out(Uart::kInterruptId, 0x21);
    CHECK((g.in(Uart::kInterruptId)&0xE0) == 0xC0);
    g.out(Uart::kInterruptId, 0x00);
    CHECK((g.in(Uart::kInterruptId)&0xC0) == 0);
}

TEST_CASE("uart: THR-empty interrupt as the 8250 startup test expects", "[uart]")
{
    Guest g;
    g.out(Uart::kModemControl, Uart::kMcrOut2);
    g.out(Uart::kInterruptEnable, Uart::kIerTransmitEmpty);
    CHECK(g.irq.level);
    CHECK(g.irq.rising_edges == 1);
    CHECK((g.in(Uart::kInterruptId)&0x0F) == 0x02);  // THRE, and reading acknowledges
    CHECK_FALSE(g.irq.level);
    CHECK((g.in(Uart::kInterruptId)&0x0F) == 0x01);
    // Re-enabling re-asserts: a real 16550 (no UART_BUG_THRE).
    g.out(Uart::kInterruptEnable, 0);
    g.out(Uart::kInterruptEnable, Uart::kIerTransmitEmpty);
    CHECK((g.in(Uart::kInterruptId)&0x0F) == 0x02);
    // Each byte sent empties THR again: a new edge per byte the interrupt
    // handler sends after reading IIR; without that read the line stays up.
    g.out(Uart::kData, 'a');
    CHECK(g.irq.rising_edges == 3);
    CHECK((g.in(Uart::kInterruptId)&0x0F) == 0x02);
    g.out(Uart::kData, 'b');
    g.out(Uart::kData, 'c');
    CHECK(g.irq.rising_edges == 4);
    CHECK(g.irq.level);
    g.out(Uart::kInterruptEnable, 0);  // the driver stops transmitting
    CHECK_FALSE(g.irq.level);
}

TEST_CASE("uart: OUT2 gates the interrupt output", "[uart]")
{
    Guest g;
    g.out(Uart::kInterruptEnable, Uart::kIerTransmitEmpty);
    CHECK_FALSE(g.irq.level);
    g.out(Uart::kModemControl, Uart::kMcrOut2);
    CHECK(g.irq.level);
}

TEST_CASE("uart: received bytes, their interrupt and overrun", "[uart]")
{
    Guest g;
    g.out(Uart::kModemControl, Uart::kMcrOut2);
    g.out(Uart::kInterruptEnable, Uart::kIerReceived);
    const std::string typed(20, 'k');
    CHECK(g.uart.receive({reinterpret_cast<const std::uint8_t*>(typed.data()), typed.size()}) ==
          Uart::kFifoSize);
    CHECK(g.irq.level);
    CHECK((g.in(Uart::kInterruptId)&0x0F) == 0x04);
    CHECK((g.in(Uart::kLineStatus)&0x03) == 0x03);  // data ready, overrun
    CHECK((g.in(Uart::kLineStatus)&0x02) == 0);     // overrun cleared by reading
    for (std::size_t i = 0; i < Uart::kFifoSize; ++i) {
        CHECK(g.in(Uart::kData) == 'k');
    }
    CHECK_FALSE(g.irq.level);
    CHECK(g.in(Uart::kData) == 0);  // empty
    CHECK((g.in(Uart::kLineStatus)&0x01) == 0);
    // FCR bit 1 clears the receive FIFO.
    CHECK(g.uart.receive({reinterpret_cast<const std::uint8_t*>(typed.data()), 3}) == 3);
    g.out(Uart::kInterruptId, Uart::kFcrEnable | Uart::kFcrClearReceive);
    CHECK((g.in(Uart::kLineStatus)&0x01) == 0);
}

TEST_CASE("uart: malformed accesses are ignored", "[uart][malformed]")
{
    Guest g;
    CHECK(g.uart.port_read(kBase, 2) == 0xFFFF);
    CHECK(g.uart.port_read(kBase, 4) == 0xFFFF'FFFF);
    g.uart.port_write(kBase, 2, 0x4141);
    g.uart.port_write(kBase, 4, 0x4141'4141);
    CHECK(g.uart.port_read(kBase - 1, 1) == 0xFF);  // not its port
    CHECK(g.uart.port_read(kBase + 8, 1) == 0xFF);
    g.uart.port_write(kBase + 8, 1, 'z');
    g.out(Uart::kLineStatus, 0xFF);  // read-only registers
    g.out(Uart::kModemStatus, 0xFF);
    CHECK((g.in(Uart::kLineStatus)&0x60) == 0x60);
    CHECK(g.console.take().empty());
    CHECK(g.uart.bad_accesses() == 7);
    // Every byte value to every register: no crash, output only via THR.
    for (std::uint16_t offset = 0; offset < Uart::kRegisterCount; ++offset) {
        for (std::uint32_t value = 0; value < 256; ++value) {
            if (offset == Uart::kLineControl) {
                continue;  // keep DLAB clear so THR stays THR
            }
            g.out(offset, static_cast<std::uint8_t>(value));
            (void)g.in(offset);
        }
    }
}
