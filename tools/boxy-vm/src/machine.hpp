// SPDX-License-Identifier: MIT
//
// The board of a service VM: every device model the process emulates,
// wired to the I/O bus and the I/O APIC, and one lock around all of them.
//
//   ports  0x60, 0x64    i8042 keyboard controller    GSI 1 (edge)
//          0x3F8-0x3FF   16550 UART (COM1)            GSI 4 (edge)
//          0x600, 0x601  ACPI sleep control / status
//          0xCF9         reset control (FADT RESET_REG)
//   MMIO   0xD0000000    virtio-mmio slot 0: console  GSI 5 (level)
//          0xFEC00000    I/O APIC
// Everything else reads as all ones and ignores writes (io_bus.hpp).
//
// vCPU threads hand it their exits (handle_exit); the event loop feeds
// console input and the shutdown request. One mutex serialises all device
// state: exits are rare (the VMM handles the hot paths) and the device
// work is short.
#pragma once

#include "console_output.hpp"
#include "i8042.hpp"
#include "interrupts.hpp"
#include "io_bus.hpp"
#include "ioapic.hpp"
#include "pit.hpp"
#include "power.hpp"
#include "rtc.hpp"
#include "uart.hpp"
#include "virtio/guest_memory.hpp"
#include "virtio/virtio_mmio.hpp"
#include "virtio_console.hpp"
#include "virtio_slot.hpp"

#include <boxy/abi.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>

namespace boxy::vm {

// What a vCPU thread does after an exit.
struct ExitAction {
    enum class Kind : std::uint8_t {
        resume,    // run the vCPU again
        shutdown,  // the guest is dead (triple fault): stop the VM
        failed,    // the VMM cannot continue this vCPU: stop the VM, report
    };
    Kind kind{Kind::resume};
    std::string detail;  // for shutdown and failed: what happened
};

// The failure an EXIT_FAILED run page describes, as a sentence.
[[nodiscard]] std::string describe_failure(const boxy_vcpu_run& run);

class Machine {
public:
    struct Connections {
        const virtio::GuestMemory* memory;
        std::uint32_t vcpu_count;
        InterruptSink* interrupts;              // the VM: BOXY_IOCTL_INJECT
        ConsoleOutput* console;                 // console.log and the clients
        std::function<void(PowerEvent)> power;  // power-off or reset asked for
        IoBus::Logger log;                      // the process log
    };

    explicit Machine(const Connections& connections);
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;
    Machine(Machine&&) = delete;
    Machine& operator=(Machine&&) = delete;
    ~Machine() = default;

    // A vCPU thread, after BOXY_IOCTL_RUN returned 0: serves the exit in
    // `run` and, for IN and MMIO reads, writes the answer into it.
    [[nodiscard]] ExitAction handle_exit(boxy_vcpu_run& run);

    // Bytes a console client typed.
    void console_input(std::span<const std::uint8_t> bytes);
    // Presses Ctrl-Alt-Del; false when the guest's keyboard cannot take it.
    [[nodiscard]] bool request_shutdown();

    // Counters of everything refused or dropped, for the process log.
    [[nodiscard]] std::string stats_summary() const;

private:
    // An I/O APIC input as a device's interrupt line.
    class PinLine final : public InterruptLine {
    public:
        PinLine(IoApic& ioapic, std::uint32_t pin) : ioapic_{&ioapic}, pin_{pin} {}
        void set_level(bool asserted) override { ioapic_->set_level(pin_, asserted); }

    private:
        IoApic* ioapic_;
        std::uint32_t pin_;
    };

    void wire(const IoBus::Logger& log);

    mutable std::mutex mutex_;
    IoApic ioapic_;
    PinLine keyboard_line_;
    PinLine com1_line_;
    PinLine console_line_;
    Uart uart_;
    I8042 i8042_;
    PowerControl power_;
    PitChannel2 pit_;
    CmosRtc rtc_;
    VirtioConsole console_;
    virtio::VirtioMmioTransport console_transport_;
    VirtioMmioSlot console_slot_;
    IoBus bus_;
};

}  // namespace boxy::vm
