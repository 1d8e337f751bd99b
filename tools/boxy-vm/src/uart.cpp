// SPDX-License-Identifier: MIT
#include "uart.hpp"

namespace boxy::vm {

Uart::Uart(std::uint16_t base, ConsoleOutput& output, InterruptLine& irq)
    : base_{base}, output_{&output}, irq_{&irq}
{
}

std::uint32_t Uart::port_read(std::uint16_t port, std::uint32_t width)
{
    const auto offset = static_cast<std::uint16_t>(port - base_);
    if (width != 1 || port < base_ || offset >= kRegisterCount) {
        ++bad_accesses_;
        return static_cast<std::uint32_t>(all_ones(width));
    }
    return read_register(offset);
}

void Uart::port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value)
{
    const auto offset = static_cast<std::uint16_t>(port - base_);
    if (width != 1 || port < base_ || offset >= kRegisterCount) {
        ++bad_accesses_;
        return;
    }
    write_register(offset, static_cast<std::uint8_t>(value));
}

std::uint8_t Uart::read_register(std::uint16_t offset)
{
    const bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (offset) {
        case kData: {
            if (dlab) {
                return divisor_low_;
            }
            std::uint8_t byte = 0;
            if (fifo_count_ > 0) {
                byte = fifo_[fifo_head_];
                fifo_head_ = (fifo_head_ + 1) % kFifoSize;
                --fifo_count_;
                update_interrupt();
            }
            return byte;
        }
        case kInterruptEnable: return dlab ? divisor_high_ : ier_;
        case kInterruptId: {
            const std::uint8_t id = interrupt_id();
            // Reading IIR while it reports THR empty acknowledges that
            // interrupt (PC16550D, Table IV "Interrupt Control Functions").
            if ((id & 0x0F) == kIirTransmitEmpty) {
                transmit_empty_pending_ = false;
                update_interrupt();
            }
            return id;
        }
        case kLineControl: return lcr_;
        case kModemControl: return mcr_;
        case kLineStatus: {
            std::uint8_t status = kLsrTransmitEmpty | kLsrIdle;
            if (fifo_count_ > 0) {
                status |= kLsrDataReady;
            }
            if (overrun_) {
                status |= kLsrOverrun;
                overrun_ = false;  // error bits clear when LSR is read
            }
            return status;
        }
        case kModemStatus: return modem_status();
        case kScratch: return scratch_;
        default: return 0xFF;  // unreachable: offset < kRegisterCount
    }
}

void Uart::write_register(std::uint16_t offset, std::uint8_t value)
{
    const bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (offset) {
        case kData:
            if (dlab) {
                divisor_low_ = value;
            } else {
                transmit(value);
            }
            return;
        case kInterruptEnable: {
            if (dlab) {
                divisor_high_ = value;
                return;
            }
            const std::uint8_t old = ier_;
            ier_ = value & kIerMask;
            // Enabling the THR-empty interrupt while THR is empty (always,
            // here) raises it, which Linux's 8250 startup test relies on.
            if ((ier_ & kIerTransmitEmpty) != 0 && (old & kIerTransmitEmpty) == 0) {
                transmit_empty_pending_ = true;
            }
            update_interrupt();
            return;
        }
        case kInterruptId:  // FCR
            if ((value & kFcrClearReceive) != 0) {
                fifo_head_ = 0;
                fifo_count_ = 0;
            }
            fcr_ = value & kFcrEnable;
            update_interrupt();
            return;
        case kLineControl: lcr_ = value; return;
        case kModemControl:
            mcr_ = value & kMcrMask;
            update_interrupt();
            return;
        case kScratch: scratch_ = value; return;
        default: return;  // LSR and MSR are read-only (factory test modes not modelled)
    }
}

void Uart::transmit(std::uint8_t byte)
{
    if ((mcr_ & kMcrLoop) != 0) {
        (void)push_received(byte);  // loopback: the byte comes back, nothing leaves
    } else {
        output_->write(std::span<const std::uint8_t>{&byte, 1});
    }
    // Sent at once: THR is empty again.
    transmit_empty_pending_ = true;
    update_interrupt();
}

bool Uart::push_received(std::uint8_t byte)
{
    if (fifo_count_ == kFifoSize) {
        overrun_ = true;
        return false;
    }
    fifo_[(fifo_head_ + fifo_count_) % kFifoSize] = byte;
    ++fifo_count_;
    return true;
}

std::size_t Uart::receive(std::span<const std::uint8_t> bytes)
{
    std::size_t taken = 0;
    for (const std::uint8_t byte : bytes) {
        if (!push_received(byte)) {
            break;
        }
        ++taken;
    }
    update_interrupt();
    return taken;
}

std::uint8_t Uart::interrupt_id() const
{
    const std::uint8_t fifo_bits = (fcr_ & kFcrEnable) != 0 ? kIirFifoEnabled : 0;
    // Priority order (PC16550D Table IV): line status (never), received
    // data, THR empty, modem status (never).
    if ((ier_ & kIerReceived) != 0 && fifo_count_ > 0) {
        return fifo_bits | kIirReceived;
    }
    if ((ier_ & kIerTransmitEmpty) != 0 && transmit_empty_pending_) {
        return fifo_bits | kIirTransmitEmpty;
    }
    return fifo_bits | kIirNoInterrupt;
}

std::uint8_t Uart::modem_status() const
{
    if ((mcr_ & kMcrLoop) == 0) {
        return kMsrDcd | kMsrDsr | kMsrCts;  // a terminal that is always there
    }
    // Loopback (PC16550D, "MCR" bit 4): the modem control outputs feed the
    // modem status inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
    std::uint8_t status = 0;
    status |= (mcr_ & kMcrRts) != 0 ? kMsrCts : 0;
    status |= (mcr_ & kMcrDtr) != 0 ? kMsrDsr : 0;
    status |= (mcr_ & kMcrOut1) != 0 ? kMsrRi : 0;
    status |= (mcr_ & kMcrOut2) != 0 ? kMsrDcd : 0;
    return status;
}

void Uart::update_interrupt()
{
    // On a PC, OUT2 connects the UART's interrupt output to the bus.
    const bool pending = (interrupt_id() & kIirNoInterrupt) == 0;
    irq_->set_level(pending && (mcr_ & kMcrOut2) != 0);
}

}  // namespace boxy::vm
