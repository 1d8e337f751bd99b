// SPDX-License-Identifier: MIT
//
// boxyctl console's parts: the pump between the terminal and a VM's
// console.sock, and the terminal's raw mode. run_console (vm_commands.hpp)
// puts them together.
#pragma once

#include <chrono>
#include <string>
#include <termios.h>

namespace boxy::boxyctl {

// Ctrl-] in the input detaches, as in telnet and virsh console; the bytes
// before it still go to the guest.
inline constexpr char kDetachByte = 0x1D;

// How long the guest may still answer once the input has ended (a pipe,
// not a terminal): until it is quiet for kConsoleDrainQuiet, at most
// kConsoleDrainLimit.
inline constexpr std::chrono::milliseconds kConsoleDrainQuiet{1000};
inline constexpr std::chrono::milliseconds kConsoleDrainLimit{5000};

enum class ConsoleEnd {
    detached,        // Ctrl-]
    input_closed,    // end of the input, and the guest went quiet
    console_closed,  // boxy-vm closed the socket (the VM stopped)
    interrupted,     // SIGINT, SIGTERM or SIGHUP (InterruptGuard)
    failed,          // error says why
};

struct ConsoleOutcome {
    ConsoleEnd end = ConsoleEnd::failed;
    std::string error;
};

// Copies input_fd to console_socket and console_socket to output_fd until
// one of ConsoleEnd happens.
[[nodiscard]] ConsoleOutcome pump_console(
    int input_fd, int output_fd, int console_socket,
    std::chrono::milliseconds drain_quiet = kConsoleDrainQuiet,
    std::chrono::milliseconds drain_limit = kConsoleDrainLimit);

// A terminal in raw mode (cfmakeraw: bytes as typed, no echo, no signals
// from keys) while this lives; restored on destruction, however the
// console ends. A file that is no terminal is left alone.
class RawTerminal {
public:
    explicit RawTerminal(int fd);
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal(RawTerminal&&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
    RawTerminal& operator=(RawTerminal&&) = delete;
    ~RawTerminal();

    [[nodiscard]] bool active() const { return active_; }

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

}  // namespace boxy::boxyctl
