// SPDX-License-Identifier: MIT
//
// An 8042 keyboard controller with one PS/2 keyboard and no mouse, the way
// Firecracker asks a guest to shut down: the host "presses" Ctrl-Alt-Del,
// Linux's keyboard layer turns that into SIGINT for init (once init has
// disabled the kernel's own Ctrl-Alt-Del reboot, as busybox and systemd
// do), and init runs its shutdown action, which ends in an ACPI power-off.
//
// Modelled: the status register (0x64 read), controller commands (0x64
// write) and their data (0x60), and the keyboard's side of the PS/2
// protocol, as far as Linux's i8042 and atkbd drivers use them: controller
// configuration byte (CTR), self tests, port enable/disable, output port
// (CPU reset through 0xFE pulse), keyboard reset/ID/LEDs/typematic/scan
// set/enable. References: IBM PS/2 Hardware Interface Technical Reference
// ("Keyboard and Auxiliary Device Controller", "Keyboard"), and Linux's
// drivers/input/serio/i8042.h and drivers/input/keyboard/atkbd.c.
//
// Scan codes are set 2, as a keyboard sends them; when the guest turns on
// the controller's translation (CTR bit 6), set 1, as the controller would
// pass them on. The IRQ 1 line rises for each byte placed in the output
// buffer while CTR enables the keyboard interrupt (ISA IRQs are edge
// triggered).
//
// Every byte the guest writes is accepted: unknown commands are counted and
// ignored (the keyboard answers them with RESEND, as a real one does). The
// output queue is bounded. Not thread-safe: the caller serialises
// (machine.hpp's lock).
#pragma once

#include "interrupts.hpp"
#include "io_bus.hpp"

#include <array>
#include <cstdint>
#include <functional>

namespace boxy::vm {

class I8042 final : public PortDevice {
public:
    static constexpr std::uint16_t kDataPort = 0x60;
    static constexpr std::uint16_t kCommandPort = 0x64;

    // Status register bits (i8042.h I8042_STR_*).
    static constexpr std::uint8_t kStatusOutputFull = 0x01;
    static constexpr std::uint8_t kStatusInputFull = 0x02;
    static constexpr std::uint8_t kStatusSystemFlag = 0x04;
    static constexpr std::uint8_t kStatusCommand = 0x08;   // last write went to 0x64
    static constexpr std::uint8_t kStatusUnlocked = 0x10;  // keyboard not inhibited
    // Controller configuration byte (i8042.h I8042_CTR_*).
    static constexpr std::uint8_t kCtrKeyboardInterrupt = 0x01;
    static constexpr std::uint8_t kCtrAuxInterrupt = 0x02;
    static constexpr std::uint8_t kCtrSystemFlag = 0x04;
    static constexpr std::uint8_t kCtrKeyboardDisabled = 0x10;
    static constexpr std::uint8_t kCtrAuxDisabled = 0x20;
    static constexpr std::uint8_t kCtrTranslate = 0x40;
    // What firmware leaves: keyboard interrupt on, POST passed, no
    // translation (Firecracker's choice; Linux keeps what it finds).
    static constexpr std::uint8_t kInitialCtr = kCtrKeyboardInterrupt | kCtrSystemFlag;
    static constexpr std::size_t kQueueSize = 32;

    // `reset` is called when the guest pulses the CPU reset line.
    I8042(InterruptLine& irq, std::function<void()> reset);

    [[nodiscard]] std::uint32_t port_read(std::uint16_t port, std::uint32_t width) override;
    void port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value) override;

    // Presses and releases Ctrl, Alt and Delete. false (nothing queued)
    // when the guest's driver has not enabled the keyboard (it would not
    // see the keys) or the output queue has no room for the sequence.
    [[nodiscard]] bool press_ctrl_alt_del();
    // Whether the guest has set up the controller and keyboard to receive
    // keys: configuration written, keyboard interface and its interrupt
    // enabled, keyboard scanning.
    [[nodiscard]] bool keyboard_ready() const;

    [[nodiscard]] std::uint8_t ctr() const { return ctr_; }
    [[nodiscard]] std::uint64_t ignored_accesses() const { return ignored_accesses_; }

private:
    // What the next byte written to 0x60 is for.
    enum class Pending : std::uint8_t {
        none,           // a command for the keyboard
        write_ctr,      // 0x60: the controller configuration byte
        write_output,   // 0xD1: the output port
        write_kbd_out,  // 0xD2: a byte to put in the output buffer as the keyboard's
        write_aux_out,  // 0xD3: as the mouse's (there is none: dropped)
        write_aux,      // 0xD4: a byte for the mouse (there is none: dropped)
        kbd_leds,       // keyboard 0xED: LED state
        kbd_typematic,  // keyboard 0xF3: rate and delay
        kbd_scan_set,   // keyboard 0xF0: scan set number, 0 = query
    };

    void controller_command(std::uint8_t command);
    void data_write(std::uint8_t value);
    void keyboard_command(std::uint8_t command);
    void push(std::uint8_t byte);
    [[nodiscard]] std::uint8_t pop();
    void raise_if_output();
    [[nodiscard]] std::size_t free_space() const { return kQueueSize - count_; }

    InterruptLine* irq_;
    std::function<void()> reset_;
    std::uint8_t ctr_{kInitialCtr};
    std::uint8_t output_port_{0x03};  // A20 on, reset line high (deasserted)
    std::uint8_t status_flags_{kStatusSystemFlag};
    std::uint8_t last_keyboard_byte_{0};
    std::uint8_t scan_set_{2};
    bool ctr_written_{false};
    bool scanning_{true};  // a keyboard scans after power-on
    Pending pending_{Pending::none};
    std::array<std::uint8_t, kQueueSize> queue_{};
    std::size_t head_{0};
    std::size_t count_{0};
    std::uint64_t ignored_accesses_{0};
};

}  // namespace boxy::vm
