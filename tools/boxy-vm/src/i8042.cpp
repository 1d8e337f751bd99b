// SPDX-License-Identifier: MIT
#include "i8042.hpp"

#include <span>
#include <utility>

namespace boxy::vm {
namespace {

// Controller commands (written to 0x64; Linux's i8042.h I8042_CMD_*).
constexpr std::uint8_t kReadCtr = 0x20;
constexpr std::uint8_t kWriteCtr = 0x60;
constexpr std::uint8_t kAuxDisable = 0xA7;
constexpr std::uint8_t kAuxEnable = 0xA8;
constexpr std::uint8_t kAuxTest = 0xA9;
constexpr std::uint8_t kSelfTest = 0xAA;
constexpr std::uint8_t kKeyboardTest = 0xAB;
constexpr std::uint8_t kKeyboardDisable = 0xAD;
constexpr std::uint8_t kKeyboardEnable = 0xAE;
constexpr std::uint8_t kReadInput = 0xC0;
constexpr std::uint8_t kReadOutput = 0xD0;
constexpr std::uint8_t kWriteOutput = 0xD1;
constexpr std::uint8_t kWriteKeyboardBuffer = 0xD2;
constexpr std::uint8_t kWriteAuxBuffer = 0xD3;
constexpr std::uint8_t kWriteAux = 0xD4;
constexpr std::uint8_t kReadTestInputs = 0xE0;
constexpr std::uint8_t kPulseFirst = 0xF0;  // 0xF0-0xFF pulse the output lines whose bit is 0

// Answers.
constexpr std::uint8_t kSelfTestPassed = 0x55;
constexpr std::uint8_t kPortTestPassed = 0x00;
constexpr std::uint8_t kAuxClockStuckHigh = 0x02;  // no mouse attached
constexpr std::uint8_t kOutputPortReset = 0x01;    // bit 0: the CPU reset line, active low

// Keyboard commands and answers (atkbd.c ATKBD_CMD_*, ATKBD_RET_*).
constexpr std::uint8_t kKbdSetLeds = 0xED;
constexpr std::uint8_t kKbdEcho = 0xEE;
constexpr std::uint8_t kKbdScanSet = 0xF0;
constexpr std::uint8_t kKbdGetId = 0xF2;
constexpr std::uint8_t kKbdTypematic = 0xF3;
constexpr std::uint8_t kKbdEnable = 0xF4;
constexpr std::uint8_t kKbdDisable = 0xF5;  // reset to defaults and stop scanning
constexpr std::uint8_t kKbdDefaults = 0xF6;
constexpr std::uint8_t kKbdSet3First = 0xF7;  // 0xF7-0xFD: scan set 3 key types
constexpr std::uint8_t kKbdSet3Last = 0xFD;
constexpr std::uint8_t kKbdResend = 0xFE;
constexpr std::uint8_t kKbdReset = 0xFF;
constexpr std::uint8_t kAck = 0xFA;
constexpr std::uint8_t kNak = 0xFE;         // "resend": the keyboard's answer to an unknown command
constexpr std::uint8_t kSelfTestOk = 0xAA;  // basic assurance test passed
constexpr std::uint8_t kIdFirst = 0xAB;
constexpr std::uint8_t kIdSecond = 0x83;
constexpr std::uint8_t kIdSecondTranslated = 0x41;

// Ctrl, Alt, Delete pressed, then released in reverse order. Set 2 (the
// keyboard's): Left Ctrl 14, Left Alt 11, Delete E0 71; a release is F0
// before the code. Set 1 (what translation makes of it): 1D, 38, E0 53;
// a release sets bit 7.
constexpr std::array<std::uint8_t, 11> kCtrlAltDelSet2{0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0,
                                                       0x71, 0xF0, 0x11, 0xF0, 0x14};
constexpr std::array<std::uint8_t, 8> kCtrlAltDelSet1{0x1D, 0x38, 0xE0, 0x53,
                                                      0xE0, 0xD3, 0xB8, 0x9D};

}  // namespace

I8042::I8042(InterruptLine& irq, std::function<void()> reset) : irq_{&irq}, reset_{std::move(reset)}
{
}

std::uint32_t I8042::port_read(std::uint16_t port, std::uint32_t width)
{
    if (width != 1) {
        ++ignored_accesses_;
        return static_cast<std::uint32_t>(all_ones(width));
    }
    if (port == kCommandPort) {
        std::uint8_t status = status_flags_ | kStatusUnlocked;
        status =
            (ctr_ & kCtrSystemFlag) != 0 ? status | kStatusSystemFlag : status & ~kStatusSystemFlag;
        return count_ > 0 ? status | kStatusOutputFull : status;
    }
    if (port == kDataPort) {
        return pop();
    }
    ++ignored_accesses_;
    return 0xFF;
}

void I8042::port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value)
{
    if (width != 1) {
        ++ignored_accesses_;
        return;
    }
    const auto byte = static_cast<std::uint8_t>(value);
    if (port == kCommandPort) {
        status_flags_ |= kStatusCommand;
        controller_command(byte);
    } else if (port == kDataPort) {
        status_flags_ &= ~kStatusCommand;
        data_write(byte);
    } else {
        ++ignored_accesses_;
    }
}

void I8042::controller_command(std::uint8_t command)
{
    pending_ = Pending::none;  // a new command abandons a half-written one
    // Controller answers go in front of queued keyboard bytes: the guest
    // reads them next, as from a real 8042's single output register.
    const auto answer = [this](std::uint8_t byte) {
        if (count_ == kQueueSize) {
            count_--;  // drop the newest keyboard byte to make room
        }
        head_ = (head_ + kQueueSize - 1) % kQueueSize;
        queue_[head_] = byte;
        ++count_;
        raise_if_output();
    };
    switch (command) {
        case kReadCtr: answer(ctr_); return;
        case kWriteCtr: pending_ = Pending::write_ctr; return;
        case kAuxDisable: ctr_ |= kCtrAuxDisabled; return;
        case kAuxEnable: ctr_ &= ~kCtrAuxDisabled; return;
        case kAuxTest: answer(kAuxClockStuckHigh); return;
        case kSelfTest: answer(kSelfTestPassed); return;
        case kKeyboardTest: answer(kPortTestPassed); return;
        case kKeyboardDisable: ctr_ |= kCtrKeyboardDisabled; return;
        case kKeyboardEnable: ctr_ &= ~kCtrKeyboardDisabled; return;
        case kReadInput: answer(0x00); return;
        case kReadOutput: answer(output_port_); return;
        case kWriteOutput: pending_ = Pending::write_output; return;
        case kWriteKeyboardBuffer: pending_ = Pending::write_kbd_out; return;
        case kWriteAuxBuffer: pending_ = Pending::write_aux_out; return;
        case kWriteAux: pending_ = Pending::write_aux; return;
        case kReadTestInputs: answer(0x00); return;
        default: break;
    }
    if (command >= kPulseFirst) {
        // Bit 0 clear pulses output line 0, the CPU reset (0xFE; Linux's
        // reboot=kbd). 0xFF pulses nothing: a null command.
        if ((command & kOutputPortReset) == 0 && reset_) {
            reset_();
        }
        return;
    }
    ++ignored_accesses_;  // controller RAM access, password, vendor commands
}

void I8042::data_write(std::uint8_t value)
{
    const Pending pending = std::exchange(pending_, Pending::none);
    switch (pending) {
        case Pending::none: keyboard_command(value); return;
        case Pending::write_ctr:
            ctr_ = value;
            ctr_written_ = true;
            raise_if_output();  // the interrupt may just have been enabled
            return;
        case Pending::write_output:
            output_port_ = value;
            if ((value & kOutputPortReset) == 0 && reset_) {
                reset_();  // the reset line driven low
            }
            return;
        case Pending::write_kbd_out: push(value); return;
        case Pending::write_aux_out:
        case Pending::write_aux: return;  // no mouse
        case Pending::kbd_leds:
        case Pending::kbd_typematic: push(kAck); return;
        case Pending::kbd_scan_set:
            push(kAck);
            if (value == 0) {
                push(scan_set_);
            } else if (value <= 3) {
                scan_set_ = value;
            }
            return;
    }
}

void I8042::keyboard_command(std::uint8_t command)
{
    // The keyboard discards what it had not sent yet when a command
    // arrives, so that the answer is the next byte the driver reads.
    head_ = 0;
    count_ = 0;
    irq_->set_level(false);
    switch (command) {
        case kKbdSetLeds:
            push(kAck);
            pending_ = Pending::kbd_leds;
            return;
        case kKbdEcho: push(kKbdEcho); return;
        case kKbdScanSet:
            push(kAck);
            pending_ = Pending::kbd_scan_set;
            return;
        case kKbdGetId:
            push(kAck);
            push(kIdFirst);
            push((ctr_ & kCtrTranslate) != 0 ? kIdSecondTranslated : kIdSecond);
            return;
        case kKbdTypematic:
            push(kAck);
            pending_ = Pending::kbd_typematic;
            return;
        case kKbdEnable:
            scanning_ = true;
            push(kAck);
            return;
        case kKbdDisable:
            scanning_ = false;
            push(kAck);
            return;
        case kKbdDefaults: push(kAck); return;
        case kKbdResend: push(last_keyboard_byte_); return;
        case kKbdReset:
            scanning_ = true;
            scan_set_ = 2;
            push(kAck);
            push(kSelfTestOk);
            return;
        default: break;
    }
    if (command >= kKbdSet3First && command <= kKbdSet3Last) {
        push(kAck);
        return;
    }
    ++ignored_accesses_;
    push(kNak);
}

bool I8042::keyboard_ready() const
{
    return ctr_written_ && (ctr_ & kCtrKeyboardInterrupt) != 0 &&
           (ctr_ & kCtrKeyboardDisabled) == 0 && scanning_;
}

bool I8042::press_ctrl_alt_del()
{
    if (!keyboard_ready()) {
        return false;
    }
    const bool set1 = (ctr_ & kCtrTranslate) != 0 || scan_set_ == 1;
    const std::span<const std::uint8_t> codes =
        set1 ? std::span<const std::uint8_t>{kCtrlAltDelSet1}
             : std::span<const std::uint8_t>{kCtrlAltDelSet2};
    if (free_space() < codes.size()) {
        return false;
    }
    for (const std::uint8_t code : codes) {
        push(code);
    }
    return true;
}

void I8042::push(std::uint8_t byte)
{
    if (count_ == kQueueSize) {
        ++ignored_accesses_;  // a guest that never reads: drop
        return;
    }
    queue_[(head_ + count_) % kQueueSize] = byte;
    ++count_;
    last_keyboard_byte_ = byte;
    if (count_ == 1) {
        raise_if_output();  // the output register was empty: it is loaded now
    }
}

std::uint8_t I8042::pop()
{
    if (count_ == 0) {
        return 0;  // what Firecracker and QEMU return with nothing to read
    }
    const std::uint8_t byte = queue_[head_];
    head_ = (head_ + 1) % kQueueSize;
    --count_;
    // The output register is read; if another byte waits, it is loaded and
    // interrupts again: a new edge.
    irq_->set_level(false);
    raise_if_output();
    return byte;
}

void I8042::raise_if_output()
{
    irq_->set_level(count_ > 0 && (ctr_ & kCtrKeyboardInterrupt) != 0);
}

}  // namespace boxy::vm
