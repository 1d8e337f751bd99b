// SPDX-License-Identifier: MIT
#include "console.hpp"

#include "vm_host.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using boxy::boxyctl::ConsoleEnd;
using boxy::boxyctl::FileDescriptor;
using boxy::boxyctl::kDetachByte;
using boxy::boxyctl::pump_console;
using boxy::boxyctl::RawTerminal;
using boxy::boxyctl::write_all;

namespace {

using std::chrono::milliseconds;

// The pump's three ends: input (a pipe, as in the tests of the binary),
// output (a pipe) and the console socket, whose other end plays boxy-vm.
struct Wiring {
    FileDescriptor input_read, input_write;
    FileDescriptor output_read, output_write;
    FileDescriptor console, guest;

    Wiring()
    {
        std::array<int, 2> fds{};
        REQUIRE(::pipe2(fds.data(), O_CLOEXEC) == 0);
        input_read.reset(fds[0]);
        input_write.reset(fds[1]);
        REQUIRE(::pipe2(fds.data(), O_CLOEXEC) == 0);
        output_read.reset(fds[0]);
        output_write.reset(fds[1]);
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds.data()) == 0);
        console.reset(fds[0]);
        guest.reset(fds[1]);
    }

    [[nodiscard]] boxy::boxyctl::ConsoleOutcome pump(milliseconds quiet = milliseconds{50},
                                                     milliseconds limit = milliseconds{500})
    {
        return pump_console(input_read.get(), output_write.get(), console.get(), quiet, limit);
    }
};

// Everything readable on `fd` now.
std::string drain(int fd)
{
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    std::string text;
    std::array<char, 4096> buffer{};
    for (ssize_t got = 0; (got = ::read(fd, buffer.data(), buffer.size())) > 0;) {
        text.append(buffer.data(), static_cast<std::size_t>(got));
    }
    ::fcntl(fd, F_SETFL, flags);
    return text;
}

}  // namespace

TEST_CASE("console: input to the guest, the guest's output out, until the input ends")
{
    Wiring wiring;
    REQUIRE(write_all(wiring.guest.get(), "login: "));
    REQUIRE(write_all(wiring.input_write.get(), "root\n"));
    wiring.input_write.reset();
    const auto outcome = wiring.pump();
    CHECK(outcome.end == ConsoleEnd::input_closed);
    CHECK(drain(wiring.guest.get()) == "root\n");
    CHECK(drain(wiring.output_read.get()) == "login: ");
}

TEST_CASE("console: Ctrl-] detaches; what precedes it still goes to the guest")
{
    Wiring wiring;
    REQUIRE(write_all(wiring.input_write.get(), std::string{"ls\n"} + kDetachByte + "reboot\n"));
    const auto outcome = wiring.pump();
    CHECK(outcome.end == ConsoleEnd::detached);
    CHECK(drain(wiring.guest.get()) == "ls\n");
}

TEST_CASE("console: the guest's end closing ends the console")
{
    Wiring wiring;
    REQUIRE(write_all(wiring.guest.get(), "Power down.\n"));
    wiring.guest.reset();
    const auto outcome = wiring.pump();
    CHECK(outcome.end == ConsoleEnd::console_closed);
    CHECK(drain(wiring.output_read.get()) == "Power down.\n");
}

TEST_CASE("console: after the input ends, a chatty guest is cut off at the limit")
{
    Wiring wiring;
    wiring.input_write.reset();
    // The guest writes more often than the quiet time, for longer than the
    // limit; the pump must still end.
    const pid_t chatter = ::fork();
    if (chatter == 0) {
        for (int i = 0; i < 100; ++i) {
            (void)write_all(wiring.guest.get(), "tick\n");
            ::usleep(20000);
        }
        ::_exit(0);
    }
    const auto start = std::chrono::steady_clock::now();
    const auto outcome = wiring.pump(milliseconds{100}, milliseconds{300});
    const auto took = std::chrono::steady_clock::now() - start;
    ::kill(chatter, SIGKILL);
    int status = 0;
    ::waitpid(chatter, &status, 0);
    CHECK(outcome.end == ConsoleEnd::input_closed);
    CHECK(took < milliseconds{1500});
    CHECK(drain(wiring.output_read.get()).starts_with("tick\n"));
}

TEST_CASE("console: a file that is no terminal stays as it is")
{
    Wiring wiring;
    const RawTerminal raw{wiring.input_read.get()};
    CHECK_FALSE(raw.active());
}
