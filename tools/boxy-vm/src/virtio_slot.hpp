// SPDX-License-Identifier: MIT
//
// One virtio-mmio slot (acpi.hpp's virtio_mmio_slot): the transport's
// register window on the MMIO bus, and the slot's level-triggered GSI
// driven from the transport's interrupt status. The line follows
// InterruptStatus: it rises when the device signals used buffers or a
// configuration change, and falls when the driver acknowledges both
// through InterruptACK (virtio 1.1 §4.2.3.4). Not thread-safe: the caller
// serialises (machine.hpp's lock).
#pragma once

#include "interrupts.hpp"
#include "io_bus.hpp"
#include "virtio/virtio_mmio.hpp"

#include <cstdint>

namespace boxy::vm {

class VirtioMmioSlot final : public MmioDevice {
public:
    // Both must outlive the slot.
    VirtioMmioSlot(virtio::VirtioMmioTransport& transport, InterruptLine& irq)
        : transport_{&transport}, irq_{&irq}
    {
    }

    [[nodiscard]] std::uint64_t mmio_read(std::uint64_t offset, std::uint32_t width) override
    {
        const std::uint64_t value = transport_->read(offset, width);
        update_interrupt();
        return value;
    }
    void mmio_write(std::uint64_t offset, std::uint32_t width, std::uint64_t value) override
    {
        transport_->write(offset, width, value);  // may reset, ack, or notify a queue
        update_interrupt();
    }

    // The device side: used buffers, a configuration change, needs-reset.
    void signal_used_buffers()
    {
        transport_->signal_used_buffers();
        update_interrupt();
    }
    void set_needs_reset()
    {
        transport_->set_needs_reset();
        update_interrupt();
    }
    void update_interrupt() { irq_->set_level(transport_->interrupt_asserted()); }

private:
    virtio::VirtioMmioTransport* transport_;
    InterruptLine* irq_;
};

}  // namespace boxy::vm
