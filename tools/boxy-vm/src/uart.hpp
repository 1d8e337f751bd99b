// SPDX-License-Identifier: MIT
//
// A 16550A UART (COM1) for early boot messages: enough of the register
// interface for Linux's 8250 driver (probe, console, tty) and earlyprintk
// (National Semiconductor PC16550D datasheet, "Register Description";
// QEMU's hw/char/serial.c behaves the same way).
//
// Transmission is instant: every byte written to THR goes to the console
// output at once, so LSR always reports THRE | TEMT and the guest never
// waits. The receiver holds a small FIFO that only loopback mode (MCR bit
// 4, used by Linux's probe) and receive() fill; console clients type into
// virtio-console, not here.
//
// Interrupts follow the 16550: receive-data-available and THR-empty, gated
// by IER and OUT2, reported through IIR; the interrupt output is a level
// that the COM1 pin of the I/O APIC (edge triggered, ISA IRQ 4) sees rise.
// Line status and modem status interrupts never fire (no errors, no modem).
//
// Only byte accesses are defined; others are counted and ignored. Not
// thread-safe: the caller serialises (machine.hpp's lock).
#pragma once

#include "console_output.hpp"
#include "interrupts.hpp"
#include "io_bus.hpp"

#include <array>
#include <cstdint>
#include <span>

namespace boxy::vm {

class Uart final : public PortDevice {
public:
    // Register offsets from the base port.
    static constexpr std::uint16_t kData = 0;             // RBR / THR; DLL with DLAB
    static constexpr std::uint16_t kInterruptEnable = 1;  // IER; DLM with DLAB
    static constexpr std::uint16_t kInterruptId = 2;      // IIR (read) / FCR (write)
    static constexpr std::uint16_t kLineControl = 3;
    static constexpr std::uint16_t kModemControl = 4;
    static constexpr std::uint16_t kLineStatus = 5;
    static constexpr std::uint16_t kModemStatus = 6;
    static constexpr std::uint16_t kScratch = 7;
    static constexpr std::uint16_t kRegisterCount = 8;
    static constexpr std::size_t kFifoSize = 16;

    // LCR, IER, IIR, LSR, MCR and MSR bits.
    static constexpr std::uint8_t kLcrDlab = 0x80;
    static constexpr std::uint8_t kIerReceived = 0x01;
    static constexpr std::uint8_t kIerTransmitEmpty = 0x02;
    static constexpr std::uint8_t kIerMask = 0x0F;
    static constexpr std::uint8_t kIirNoInterrupt = 0x01;
    static constexpr std::uint8_t kIirTransmitEmpty = 0x02;
    static constexpr std::uint8_t kIirReceived = 0x04;
    static constexpr std::uint8_t kIirFifoEnabled = 0xC0;
    static constexpr std::uint8_t kFcrEnable = 0x01;
    static constexpr std::uint8_t kFcrClearReceive = 0x02;
    static constexpr std::uint8_t kLsrDataReady = 0x01;
    static constexpr std::uint8_t kLsrOverrun = 0x02;
    static constexpr std::uint8_t kLsrTransmitEmpty = 0x20;  // THRE
    static constexpr std::uint8_t kLsrIdle = 0x40;           // TEMT
    static constexpr std::uint8_t kMcrDtr = 0x01;
    static constexpr std::uint8_t kMcrRts = 0x02;
    static constexpr std::uint8_t kMcrOut1 = 0x04;
    static constexpr std::uint8_t kMcrOut2 = 0x08;  // gates the interrupt output on a PC
    static constexpr std::uint8_t kMcrLoop = 0x10;
    static constexpr std::uint8_t kMcrMask = 0x1F;
    static constexpr std::uint8_t kMsrCts = 0x10;
    static constexpr std::uint8_t kMsrDsr = 0x20;
    static constexpr std::uint8_t kMsrRi = 0x40;
    static constexpr std::uint8_t kMsrDcd = 0x80;

    // `output` receives transmitted bytes, `irq` is the interrupt output;
    // both must outlive the UART.
    Uart(std::uint16_t base, ConsoleOutput& output, InterruptLine& irq);

    [[nodiscard]] std::uint32_t port_read(std::uint16_t port, std::uint32_t width) override;
    void port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value) override;

    // Host bytes for the guest to read; what does not fit the FIFO is
    // dropped (and sets the overrun bit). Returns the bytes taken.
    std::size_t receive(std::span<const std::uint8_t> bytes);

    [[nodiscard]] std::uint64_t bad_accesses() const { return bad_accesses_; }

private:
    [[nodiscard]] std::uint8_t read_register(std::uint16_t offset);
    void write_register(std::uint16_t offset, std::uint8_t value);
    void transmit(std::uint8_t byte);
    bool push_received(std::uint8_t byte);
    [[nodiscard]] std::uint8_t interrupt_id() const;
    [[nodiscard]] std::uint8_t modem_status() const;
    void update_interrupt();

    std::uint16_t base_;
    ConsoleOutput* output_;
    InterruptLine* irq_;
    std::uint8_t ier_{0};
    std::uint8_t fcr_{0};
    std::uint8_t lcr_{0};
    std::uint8_t mcr_{0};
    std::uint8_t scratch_{0};
    std::uint8_t divisor_low_{0x0C};  // 9600 baud after reset, as firmware leaves it
    std::uint8_t divisor_high_{0};
    bool overrun_{false};
    // THR empty is reported once per emptying, until IIR is read or THR written.
    bool transmit_empty_pending_{false};
    std::array<std::uint8_t, kFifoSize> fifo_{};
    std::size_t fifo_head_{0};
    std::size_t fifo_count_{0};
    std::uint64_t bad_accesses_{0};
};

}  // namespace boxy::vm
