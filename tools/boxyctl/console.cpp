// SPDX-License-Identifier: MIT
#include "console.hpp"

#include "vm_commands.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

namespace boxy::boxyctl {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

ConsoleOutcome failure(std::string_view what)
{
    return ConsoleOutcome{.end = ConsoleEnd::failed,
                          .error = fmt::format("{}: {}", what, errno_text(errno))};
}

// SIGPIPE ignored while this lives: a closed stdout is an error to report,
// not a death that leaves the terminal raw.
class IgnoreSigpipe {
public:
    IgnoreSigpipe()
    {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        ::sigaction(SIGPIPE, &ignore, &old_);
    }
    IgnoreSigpipe(const IgnoreSigpipe&) = delete;
    IgnoreSigpipe(IgnoreSigpipe&&) = delete;
    IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;
    IgnoreSigpipe& operator=(IgnoreSigpipe&&) = delete;
    ~IgnoreSigpipe() { ::sigaction(SIGPIPE, &old_, nullptr); }

private:
    struct sigaction old_ {};
};

}  // namespace

ConsoleOutcome pump_console(int input_fd, int output_fd, int console_socket,
                            milliseconds drain_quiet, milliseconds drain_limit)
{
    std::array<char, 4096> buffer{};
    bool input_open = true;
    steady_clock::time_point drain_end{};
    for (;;) {
        if (InterruptGuard::interrupted()) {
            return ConsoleOutcome{.end = ConsoleEnd::interrupted, .error = {}};
        }
        // A negative fd is ignored by poll(2): no more input after its end.
        std::array<pollfd, 2> fds{
            pollfd{.fd = console_socket, .events = POLLIN, .revents = 0},
            pollfd{.fd = input_open ? input_fd : -1, .events = POLLIN, .revents = 0}};
        int timeout = -1;
        if (!input_open) {
            const auto left =
                std::chrono::duration_cast<milliseconds>(drain_end - steady_clock::now());
            timeout =
                static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, drain_quiet.count()));
        }
        const int ready = ::poll(fds.data(), fds.size(), timeout);
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready < 0) {
            return failure("poll");
        }
        if (ready == 0) {
            return ConsoleOutcome{.end = ConsoleEnd::input_closed, .error = {}};
        }

        if (fds[0].revents != 0) {
            const ssize_t got = ::read(console_socket, buffer.data(), buffer.size());
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got == 0 || (got < 0 && errno == ECONNRESET)) {
                return ConsoleOutcome{.end = ConsoleEnd::console_closed, .error = {}};
            }
            if (got < 0) {
                return failure("cannot read the console");
            }
            if (!write_all(output_fd, {buffer.data(), static_cast<std::size_t>(got)})) {
                return failure("cannot write the console's output");
            }
        }

        if (fds[1].revents != 0) {
            const ssize_t got = ::read(input_fd, buffer.data(), buffer.size());
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got < 0) {
                return failure("cannot read the input");
            }
            if (got == 0) {
                input_open = false;
                drain_end = steady_clock::now() + drain_limit;
                continue;
            }
            const std::string_view input{buffer.data(), static_cast<std::size_t>(got)};
            const auto detach = input.find(kDetachByte);
            if (!send_all(console_socket, input.substr(0, detach))) {
                if (errno == EPIPE || errno == ECONNRESET) {
                    return ConsoleOutcome{.end = ConsoleEnd::console_closed, .error = {}};
                }
                return failure("cannot write to the console");
            }
            if (detach != std::string_view::npos) {
                return ConsoleOutcome{.end = ConsoleEnd::detached, .error = {}};
            }
        }
    }
}

RawTerminal::RawTerminal(int fd) : fd_{fd}
{
    if (::isatty(fd) == 0 || ::tcgetattr(fd, &saved_) != 0) {
        return;
    }
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(fd, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal()
{
    if (active_) {
        ::tcsetattr(fd_, TCSANOW, &saved_);
    }
}

int run_console(const ConsoleCommand& command, const VmEnvironment& environment, std::ostream& err)
{
    const std::string directory = vm_directory(environment, command.name);
    std::error_code exists_error;
    if (!std::filesystem::is_directory(directory, exists_error)) {
        return vm_fail(
            err, fmt::format("there is no VM named {} (boxyctl list shows the VMs)", command.name));
    }
    const auto state = read_vm_state(directory);
    if (!state) {
        return vm_fail(
            err, fmt::format("VM {} has no console yet: {}", command.name, state.error().message));
    }
    if (!vm_process_alive(directory, static_cast<pid_t>(state->pid))) {
        return vm_fail(
            err,
            fmt::format("VM {} is not running ({}); boxyctl logs {} shows what "
                        "its console printed",
                        command.name, is_live(state->status) ? "crashed" : to_string(state->status),
                        command.name));
    }
    const auto socket = connect_unix(path_in(directory, kConsoleSocket));
    if (!socket) {
        return vm_fail(err, socket.error().message);
    }

    err << fmt::format("Connected to the console of VM {}. Detach with Ctrl-].\n", command.name);
    err.flush();
    ConsoleOutcome outcome;
    {
        const InterruptGuard interrupts;
        const IgnoreSigpipe no_sigpipe;
        const RawTerminal terminal{STDIN_FILENO};
        outcome = pump_console(STDIN_FILENO, STDOUT_FILENO, socket->get());
    }
    switch (outcome.end) {
        case ConsoleEnd::detached:
            err << fmt::format("\nDetached from the console of VM {}.\n", command.name);
            return kExitOk;
        case ConsoleEnd::input_closed: return kExitOk;
        case ConsoleEnd::console_closed:
            err << fmt::format("\nThe console of VM {} closed: the VM stopped.\n", command.name);
            return kExitOk;
        case ConsoleEnd::interrupted: err << '\n'; return vm_fail(err, "interrupted");
        case ConsoleEnd::failed: break;
    }
    return vm_fail(err, outcome.error);
}

}  // namespace boxy::boxyctl
