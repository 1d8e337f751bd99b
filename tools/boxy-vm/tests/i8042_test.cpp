// SPDX-License-Identifier: MIT
//
// The 8042 and its keyboard driven the way Linux's i8042 and atkbd drivers
// do at boot (drivers/input/serio/i8042.c, drivers/input/keyboard/atkbd.c),
// then the shutdown request: Ctrl-Alt-Del scan codes.
#include "i8042.hpp"

#include "fakes.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::vm::test::FakeLine;

namespace {

struct Guest {
    FakeLine irq;
    int resets = 0;
    I8042 kbc{irq, [this] { ++resets; }};

    std::uint8_t status() { return static_cast<std::uint8_t>(kbc.port_read(0x64, 1)); }
    std::uint8_t data() { return static_cast<std::uint8_t>(kbc.port_read(0x60, 1)); }
    void command(std::uint8_t value) { kbc.port_write(0x64, 1, value); }
    void write_data(std::uint8_t value) { kbc.port_write(0x60, 1, value); }

    // Everything in the output buffer, as i8042_flush() drains it.
    std::vector<std::uint8_t> drain()
    {
        std::vector<std::uint8_t> bytes;
        for (int i = 0; i < 64 && (status() & I8042::kStatusOutputFull) != 0; ++i) {
            bytes.push_back(data());
        }
        return bytes;
    }
    // A controller command with a one-byte answer (i8042_command()).
    std::uint8_t ask(std::uint8_t value)
    {
        command(value);
        REQUIRE((status() & I8042::kStatusOutputFull) != 0);
        return data();
    }
    // A keyboard command and the bytes it answers (ps2_command()).
    std::vector<std::uint8_t> keyboard(std::uint8_t value)
    {
        write_data(value);
        return drain();
    }

    // Linux at boot: i8042_controller_check, selftest, init (CTR), A20,
    // then atkbd's probe and activation.
    void boot_linux()
    {
        CHECK(status() != 0xFF);  // i8042_controller_check: a controller is there
        drain();
        CHECK(ask(0xAA) == 0x55);  // I8042_CMD_CTL_TEST
        std::uint8_t ctr = ask(0x20);
        CHECK(ask(0x20) == ctr);  // read twice, must agree
        ctr = static_cast<std::uint8_t>((ctr | I8042::kCtrKeyboardDisabled) &
                                        ~I8042::kCtrKeyboardInterrupt);
        command(0x60);
        write_data(ctr);
        command(0xD1);  // A20 through the output port
        write_data(0xDF);
        command(0xFF);  // null command
        // i8042_enable_kbd_port.
        ctr = static_cast<std::uint8_t>((ctr & ~I8042::kCtrKeyboardDisabled) |
                                        I8042::kCtrKeyboardInterrupt);
        command(0x60);
        write_data(ctr);
        // atkbd_probe: GETID, deactivate; atkbd_reset_state: LEDs, rate;
        // atkbd_activate.
        CHECK(keyboard(0xF2) == std::vector<std::uint8_t>{0xFA, 0xAB, 0x83});
        CHECK(keyboard(0xF5) == std::vector<std::uint8_t>{0xFA});
        CHECK(keyboard(0xED) == std::vector<std::uint8_t>{0xFA});
        CHECK(keyboard(0x00) == std::vector<std::uint8_t>{0xFA});
        CHECK(keyboard(0xF3) == std::vector<std::uint8_t>{0xFA});
        CHECK(keyboard(0x00) == std::vector<std::uint8_t>{0xFA});
        CHECK_FALSE(kbc.keyboard_ready());
        CHECK(keyboard(0xF4) == std::vector<std::uint8_t>{0xFA});
    }
};

const std::vector<std::uint8_t> kCtrlAltDelSet2{0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0,
                                                0x71, 0xF0, 0x11, 0xF0, 0x14};

}  // namespace

TEST_CASE("i8042: Linux probes controller and keyboard, then Ctrl-Alt-Del arrives", "[i8042]")
{
    Guest g;
    CHECK_FALSE(g.kbc.keyboard_ready());
    CHECK_FALSE(g.kbc.press_ctrl_alt_del());  // nobody would see it before the driver
    g.boot_linux();
    CHECK(g.kbc.keyboard_ready());
    CHECK(g.resets == 0);

    const int edges = g.irq.rising_edges;
    REQUIRE(g.kbc.press_ctrl_alt_del());
    // One interrupt per byte, each when the previous one has been read (as
    // i8042_interrupt reads one byte per interrupt).
    std::vector<std::uint8_t> read;
    while (g.irq.level) {
        REQUIRE((g.status() & I8042::kStatusOutputFull) != 0);
        read.push_back(g.data());
    }
    CHECK(read == kCtrlAltDelSet2);
    CHECK(g.irq.rising_edges - edges == static_cast<int>(kCtrlAltDelSet2.size()));
    CHECK((g.status() & I8042::kStatusOutputFull) == 0);
}

TEST_CASE("i8042: translation gives set 1 codes and the translated ID", "[i8042]")
{
    Guest g;
    g.boot_linux();
    g.command(0x60);
    g.write_data(I8042::kCtrKeyboardInterrupt | I8042::kCtrSystemFlag | I8042::kCtrTranslate);
    CHECK(g.keyboard(0xF2) == std::vector<std::uint8_t>{0xFA, 0xAB, 0x41});
    REQUIRE(g.kbc.press_ctrl_alt_del());
    CHECK(g.drain() == std::vector<std::uint8_t>{0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D});
}

TEST_CASE("i8042: no shutdown keys while the keyboard is off", "[i8042]")
{
    Guest g;
    g.boot_linux();
    g.command(0xAD);  // keyboard interface disabled
    CHECK_FALSE(g.kbc.press_ctrl_alt_del());
    g.command(0xAE);
    CHECK(g.kbc.keyboard_ready());
    CHECK(g.keyboard(0xF5) == std::vector<std::uint8_t>{0xFA});  // scanning off
    CHECK_FALSE(g.kbc.press_ctrl_alt_del());
    CHECK(g.keyboard(0xF4) == std::vector<std::uint8_t>{0xFA});
    g.command(0x60);
    g.write_data(I8042::kCtrSystemFlag);  // interrupt off
    CHECK_FALSE(g.kbc.press_ctrl_alt_del());
}

TEST_CASE("i8042: the queue is bounded when the guest does not read", "[i8042]")
{
    Guest g;
    g.boot_linux();
    REQUIRE(g.kbc.press_ctrl_alt_del());
    REQUIRE(g.kbc.press_ctrl_alt_del());
    CHECK_FALSE(g.kbc.press_ctrl_alt_del());  // 33 bytes would not fit 32
    CHECK(g.drain().size() == 22);
}

TEST_CASE("i8042: controller commands and their answers", "[i8042]")
{
    Guest g;
    CHECK(g.ask(0x20) == I8042::kInitialCtr);
    CHECK(g.ask(0xAB) == 0x00);  // keyboard port test
    CHECK(g.ask(0xA9) != 0x00);  // aux port test fails: no mouse
    CHECK(g.ask(0xD0) == 0x03);  // output port: A20, reset deasserted
    CHECK((g.status() & I8042::kStatusSystemFlag) != 0);
    CHECK((g.status() & I8042::kStatusCommand) != 0);
    g.command(0xA8);
    CHECK((g.ask(0x20) & I8042::kCtrAuxDisabled) == 0);
    g.command(0xA7);
    CHECK((g.ask(0x20) & I8042::kCtrAuxDisabled) != 0);
    // 0xD3 (mouse loopback, i8042_check_aux) gets no answer: no mouse.
    g.command(0xD3);
    g.write_data(0x5A);
    CHECK(g.drain().empty());
    // 0xD2 puts a byte in the output buffer as the keyboard's.
    g.command(0xD2);
    g.write_data(0x42);
    CHECK(g.drain() == std::vector<std::uint8_t>{0x42});
    // Keyboard: echo, reset, scan set query, unknown, resend.
    CHECK(g.keyboard(0xEE) == std::vector<std::uint8_t>{0xEE});
    CHECK(g.keyboard(0xFF) == std::vector<std::uint8_t>{0xFA, 0xAA});
    g.write_data(0xF0);
    CHECK(g.keyboard(0x00) == std::vector<std::uint8_t>{0xFA, 0xFA, 0x02});
    CHECK(g.keyboard(0xE5) == std::vector<std::uint8_t>{0xFE});
    CHECK(g.keyboard(0xFE) == std::vector<std::uint8_t>{0xFE});
    CHECK(g.resets == 0);
}

TEST_CASE("i8042: controller answers come before queued keyboard bytes", "[i8042]")
{
    Guest g;
    g.boot_linux();
    REQUIRE(g.kbc.press_ctrl_alt_del());
    CHECK(g.data() == 0x14);
    g.command(0x20);
    CHECK(g.data() == (I8042::kCtrKeyboardInterrupt | I8042::kCtrSystemFlag));
    CHECK(g.data() == 0x11);  // the keys continue
}

TEST_CASE("i8042: CPU reset through the controller", "[i8042]")
{
    Guest g;
    g.command(0xFE);  // pulse output line 0: Linux's reboot=kbd
    CHECK(g.resets == 1);
    g.command(0xFF);  // pulses nothing
    g.command(0xF1);  // bit 0 set: not the reset line
    CHECK(g.resets == 1);
    g.command(0xD1);
    g.write_data(0xDE);  // reset line driven low
    CHECK(g.resets == 2);
}

TEST_CASE("i8042: malformed accesses are ignored", "[i8042][malformed]")
{
    Guest g;
    CHECK(g.kbc.port_read(0x60, 2) == 0xFFFF);
    CHECK(g.kbc.port_read(0x64, 4) == 0xFFFF'FFFF);
    g.kbc.port_write(0x64, 2, 0xFEFE);  // not a byte: not a reset
    g.kbc.port_write(0x64, 4, 0xFE);
    CHECK(g.kbc.port_read(0x61, 1) == 0xFF);
    g.kbc.port_write(0x65, 1, 0xFE);
    CHECK(g.resets == 0);
    CHECK(g.data() == 0);  // nothing to read
    // Every byte as a command, each followed by every byte as data.
    for (std::uint32_t command = 0; command < 256; ++command) {
        if (command >= 0xF0 || command == 0xD1) {
            continue;  // the reset commands, tested above
        }
        g.command(static_cast<std::uint8_t>(command));
        g.write_data(static_cast<std::uint8_t>(command ^ 0x5A));
        for (int i = 0; i < 40; ++i) {
            (void)g.data();
        }
    }
    CHECK(g.resets == 0);
    CHECK(g.kbc.ignored_accesses() > 0);
}
