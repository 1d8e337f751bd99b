// SPDX-License-Identifier: MIT
//
// list, logs and stop, and the dispatch of every service-VM command.
#include "vm_commands.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <unistd.h>

namespace boxy::boxyctl {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// How long stop waits for boxy-vm's "ok", and for the process to go after
// SIGKILL (boxy.ko then tears the VM down, which may take a moment).
constexpr milliseconds kControlReplyTimeout{5000};
constexpr milliseconds kKillTimeout{10000};
// How often logs --follow looks for more output.
constexpr milliseconds kFollowInterval{200};

bool vm_exists(const std::string& directory)
{
    std::error_code error;
    return std::filesystem::is_directory(directory, error);
}

std::string no_such_vm(std::string_view name)
{
    return fmt::format("there is no VM named {} (boxyctl list shows the VMs)", name);
}

// What the VM's state says when its boxy-vm is gone, for "not running".
std::string state_when_gone(const Result<VmState, Error>& state)
{
    if (!state) {
        return "no state";
    }
    if (is_live(state->status)) {
        return "crashed";
    }
    std::string text{to_string(state->status)};
    if (state->exit_reason) {
        text += ": " + *state->exit_reason;
    }
    return text;
}

// Copies what `fd` has now to `out`; false on a read error.
bool copy_available(int fd, std::ostream& out)
{
    std::array<char, 65536> buffer{};
    for (;;) {
        const ssize_t got = ::read(fd, buffer.data(), buffer.size());
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            out.flush();
            return got == 0;
        }
        out.write(buffer.data(), got);
    }
}

// `stop\n` on control.sock, and its `ok`.
Result<void, Error> request_shutdown(const std::string& directory)
{
    const std::string path = path_in(directory, kControlSocket);
    auto socket = connect_unix(path);
    if (!socket) {
        return make_error(socket.error());
    }
    if (!send_all(socket->get(), "stop\n")) {
        return make_error(Error{fmt::format("cannot send to {}: {}", path, errno_text(errno))});
    }
    const LineRead reply =
        read_line(socket->get(), std::chrono::steady_clock::now() + kControlReplyTimeout);
    switch (reply.end) {
        case LineEnd::line:
            if (reply.text == "ok") {
                return {};
            }
            return make_error(Error{fmt::format("{} answered \"{}\" to stop", path, reply.text)});
        case LineEnd::end_of_file:
            return make_error(Error{fmt::format("{} closed without answering stop", path)});
        case LineEnd::timeout:
            return make_error(Error{fmt::format("{} did not answer stop within {} s", path,
                                                kControlReplyTimeout.count() / 1000)});
        case LineEnd::interrupted: return make_error(Error{"interrupted"});
        case LineEnd::error: break;
    }
    return make_error(Error{fmt::format("cannot read from {}: {}", path, errno_text(reply.error))});
}

// After boxy-vm is gone: a state it left live becomes stopped, so that
// list does not call the VM crashed.
Result<void, Error> record_stop(const std::string& directory, const std::string& reason)
{
    auto state = read_vm_state(directory);
    if (!state || !is_live(state->status)) {
        return {};
    }
    state->status = VmStatus::stopped;
    state->exit_reason = reason;
    return write_file_atomically(path_in(directory, kStateFile), format_vm_state(*state));
}

}  // namespace

int vm_fail(std::ostream& err, std::string_view message)
{
    err << "boxyctl: " << message << '\n';
    return kExitFailure;
}

int run_vm_command(const Command& command, const VmEnvironment& environment, std::ostream& out,
                   std::ostream& err)
{
    if (const auto* start = std::get_if<StartCommand>(&command)) {
        return run_start(*start, environment, out, err);
    }
    if (const auto* list = std::get_if<ListCommand>(&command)) {
        return run_list(*list, environment, out);
    }
    if (const auto* logs = std::get_if<LogsCommand>(&command)) {
        return run_logs(*logs, environment, out, err);
    }
    if (const auto* console = std::get_if<ConsoleCommand>(&command)) {
        return run_console(*console, environment, err);
    }
    return run_stop(std::get<StopCommand>(command), environment, out, err);
}

int run_list(const ListCommand& command, const VmEnvironment& environment, std::ostream& out)
{
    const std::vector<VmListRow> rows = list_vms(environment);
    out << (command.json ? format_list_json(rows) : format_list_table(rows));
    return kExitOk;
}

int run_logs(const LogsCommand& command, const VmEnvironment& environment, std::ostream& out,
             std::ostream& err)
{
    const std::string directory = vm_directory(environment, command.name);
    if (!vm_exists(directory)) {
        return vm_fail(err, no_such_vm(command.name));
    }
    const std::string path = path_in(directory, kConsoleLogFile);
    FileDescriptor process;
    if (command.follow) {
        if (const auto state = read_vm_state(directory)) {
            process = open_vm_process(directory, static_cast<pid_t>(state->pid));
        }
    }
    FileDescriptor log;
    for (;;) {
        if (!log.valid()) {
            // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
            log.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
            if (!log.valid() && errno != ENOENT) {  // none yet is fine: nothing to show
                return vm_fail(err, fmt::format("cannot read {}: {}", path, errno_text(errno)));
            }
        }
        if (log.valid() && !copy_available(log.get(), out)) {
            return vm_fail(err, fmt::format("cannot read {}: {}", path, errno_text(errno)));
        }
        if (!process.valid()) {
            return kExitOk;  // no --follow, or the VM is not running (any more)
        }
        if (wait_for_exit(process.get(), kFollowInterval)) {
            process.reset();  // one more round for its last words
        }
    }
}

int run_stop(const StopCommand& command, const VmEnvironment& environment, std::ostream& out,
             std::ostream& err)
{
    const std::string directory = vm_directory(environment, command.name);
    if (!vm_exists(directory)) {
        return vm_fail(err, no_such_vm(command.name));
    }
    const auto state = read_vm_state(directory);
    pid_t pid = 0;
    if (state) {
        pid = static_cast<pid_t>(state->pid);
    } else if (const auto text = read_file(path_in(directory, kProcessFile))) {
        // Still starting: boxy-vm has not written state.json yet.
        if (const auto process = parse_vm_process(*text)) {
            pid = static_cast<pid_t>(process->pid);
        }
    }
    const FileDescriptor process = open_vm_process(directory, pid);
    if (!process.valid()) {
        return vm_fail(
            err, fmt::format("VM {} is not running ({})", command.name, state_when_gone(state)));
    }

    std::string how;
    if (!command.force) {
        const auto requested = request_shutdown(directory);
        if (!requested) {
            err << "boxyctl: warning: cannot ask VM " << command.name
                << " to shut down: " << requested.error().message << "; killing it\n";
            how = "killed: it took no shutdown request";
        } else if (wait_for_exit(process.get(), seconds{command.timeout_seconds})) {
            if (const auto recorded = record_stop(directory, "shut down by boxyctl stop");
                !recorded) {
                err << "boxyctl: warning: " << recorded.error().message << '\n';
            }
            out << "stopped " << command.name << '\n';
            return kExitOk;
        } else {
            how = fmt::format("killed: no shutdown within {} s", command.timeout_seconds);
        }
    } else {
        how = "killed with --force";
    }

    // SIGKILL makes boxy.ko destroy the VM when boxy-vm's files close.
    if (signal_pidfd(process.get(), SIGKILL) != 0 && errno != ESRCH) {
        const int error = errno;
        return vm_fail(err, fmt::format("cannot kill boxy-vm of VM {} (pid {}): {}{}", command.name,
                                        pid, errno_text(error),
                                        error == EPERM ? " — run boxyctl as root, or as the user "
                                                         "who started the VM"
                                                       : ""));
    }
    if (!wait_for_exit(process.get(), kKillTimeout)) {
        return vm_fail(err, fmt::format("boxy-vm of VM {} (pid {}) did not exit within {} s of "
                                        "SIGKILL; the kernel log (dmesg) may say why",
                                        command.name, pid, kKillTimeout.count() / 1000));
    }
    if (const auto recorded = record_stop(directory, how); !recorded) {
        err << "boxyctl: warning: " << recorded.error().message << '\n';
    }
    out << "stopped " << command.name << " (" << how << ")\n";
    return kExitOk;
}

}  // namespace boxy::boxyctl
