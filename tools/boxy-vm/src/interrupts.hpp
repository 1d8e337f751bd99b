// SPDX-License-Identifier: MIT
//
// How device models raise interrupts, as interfaces so that the models are
// tested without the I/O APIC or the kernel:
//   device --InterruptLine--> I/O APIC pin --InterruptSink--> a vCPU's local APIC
// The process's split irqchip (design.md, "Service VMs"): the VMM emulates
// the local APICs, the per-VM process the I/O APIC.
#pragma once

#include <cstdint>

namespace boxy::vm {

// One interrupt output of a device: asserted or not. Edge-triggered inputs
// see a rising edge when it goes from deasserted to asserted; a device
// pulses it for a single edge.
class InterruptLine {
public:
    InterruptLine() = default;
    InterruptLine(const InterruptLine&) = delete;
    InterruptLine& operator=(const InterruptLine&) = delete;
    InterruptLine(InterruptLine&&) = delete;
    InterruptLine& operator=(InterruptLine&&) = delete;
    virtual ~InterruptLine() = default;

    virtual void set_level(bool asserted) = 0;
    void pulse()
    {
        set_level(true);
        set_level(false);
    }
};

// A fixed interrupt for one vCPU's local APIC: BOXY_IOCTL_INJECT. `level`
// asks for BOXY_INJECT_LEVEL, whose EOI comes back as an EOI exit. false:
// the kernel refused (the caller counts it).
class InterruptSink {
public:
    InterruptSink() = default;
    InterruptSink(const InterruptSink&) = delete;
    InterruptSink& operator=(const InterruptSink&) = delete;
    InterruptSink(InterruptSink&&) = delete;
    InterruptSink& operator=(InterruptSink&&) = delete;
    virtual ~InterruptSink() = default;

    [[nodiscard]] virtual bool inject(std::uint32_t vcpu, std::uint8_t vector, bool level) = 0;
};

}  // namespace boxy::vm
