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
#include <sys/stat.h>
#include <unistd.h>

namespace boxy::boxyctl {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// How long stop waits for boxy-vm's "ok"; for boxy-vm to end the VM
// after SIGTERM (it joins its vCPU threads for up to 5 s); and for the
// process to go after SIGKILL (boxy.ko then tears the VM down).
constexpr milliseconds kControlReplyTimeout{5000};
constexpr milliseconds kTerminateTimeout{8000};
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

// `path` opened for reading; an invalid descriptor with errno set when
// it does not open (ENOENT: not there yet).
FileDescriptor open_if_there(const std::string& path)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    return FileDescriptor{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
}

// Whether `path` is now another file than the one open as `fd`.
bool replaced(const std::string& path, int fd)
{
    struct stat now {};
    struct stat open {};
    return ::stat(path.c_str(), &now) == 0 && ::fstat(fd, &open) == 0 &&
           (now.st_ino != open.st_ino || now.st_dev != open.st_dev);
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
    if (const auto* registers = std::get_if<RegistersCommand>(&command)) {
        return run_registers(*registers, environment, out, err);
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
    FileDescriptor process;
    if (command.follow) {
        if (const auto state = read_vm_state(directory)) {
            process = open_vm_process(directory, static_cast<pid_t>(state->pid));
        }
    }
    const std::string path = path_in(directory, kConsoleLogFile);
    const auto cannot_read = [&err](const std::string& file) {
        return vm_fail(err, fmt::format("cannot read {}: {}", file, errno_text(errno)));
    };

    // The older part first: boxy-vm moves console.log to console.log.1 at
    // 64 MiB and starts a new one.
    const std::string rotated = path + ".1";
    const FileDescriptor old = open_if_there(rotated);
    const bool old_readable =
        old.valid() ? copy_available(old.get(), out) : errno == ENOENT;  // none is fine
    if (!old_readable) {
        return cannot_read(rotated);
    }

    FileDescriptor log;
    for (;;) {
        if (!log.valid()) {
            log = open_if_there(path);
            if (!log.valid() && errno != ENOENT) {  // none yet is fine: nothing to show
                return cannot_read(path);
            }
        }
        if (log.valid() && !copy_available(log.get(), out)) {
            return cannot_read(path);
        }
        if (!process.valid()) {
            return kExitOk;  // no --follow, or the VM is not running (any more)
        }
        if (wait_for_exit(process.get(), kFollowInterval)) {
            process.reset();  // one more round for its last words
        }
        if (log.valid() && replaced(path, log.get())) {
            // Rotated: the rest of the old file, then on with the new one.
            if (!copy_available(log.get(), out)) {
                return cannot_read(rotated);
            }
            log.reset();
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

    const auto signal_boxy_vm = [&](int signal) -> Result<void, Error> {
        if (signal_pidfd(process.get(), signal) == 0 || errno == ESRCH) {
            return {};
        }
        const int error = errno;
        return make_error(Error{fmt::format(
            "cannot signal boxy-vm of VM {} (pid {}): {}{}", command.name, pid, errno_text(error),
            error == EPERM ? " — run boxyctl as root, or as the user who started the VM" : "")});
    };
    const auto finish = [&](const std::string& how) {
        const std::string recorded_reason = how.empty() ? "shut down by boxyctl stop" : how;
        if (const auto recorded = record_stop(directory, recorded_reason); !recorded) {
            err << "boxyctl: warning: " << recorded.error().message << '\n';
        }
        out << "stopped " << command.name << (how.empty() ? "" : " (" + how + ")") << '\n';
        return kExitOk;
    };

    // 1. The guest shuts down (Ctrl-Alt-Del through control.sock).
    std::string reason = "--force";
    if (!command.force) {
        const auto requested = request_shutdown(directory);
        if (!requested) {
            err << "boxyctl: warning: cannot ask VM " << command.name
                << " to shut down: " << requested.error().message << '\n';
            reason = "it took no shutdown request";
        } else if (wait_for_exit(process.get(), seconds{command.timeout_seconds})) {
            return finish("");
        } else {
            reason = fmt::format("no shutdown within {} s", command.timeout_seconds);
        }

        // 2. boxy-vm ends the VM at once, and records it (SIGTERM).
        if (const auto sent = signal_boxy_vm(SIGTERM); !sent) {
            return vm_fail(err, sent.error().message);
        }
        if (wait_for_exit(process.get(), kTerminateTimeout)) {
            return finish("terminated: " + reason);
        }
        reason += fmt::format(", nor within {} s of SIGTERM", kTerminateTimeout.count() / 1000);
    }

    // 3. SIGKILL: boxy.ko destroys the VM when boxy-vm's files close.
    if (const auto sent = signal_boxy_vm(SIGKILL); !sent) {
        return vm_fail(err, sent.error().message);
    }
    if (!wait_for_exit(process.get(), kKillTimeout)) {
        return vm_fail(err, fmt::format("boxy-vm of VM {} (pid {}) did not exit within {} s of "
                                        "SIGKILL; the kernel log (dmesg) may say why",
                                        command.name, pid, kKillTimeout.count() / 1000));
    }
    return finish(command.force ? "killed with --force" : "killed: " + reason);
}

// `registers\n` on control.sock: boxy-vm answers with every vCPU's dump
// (it waits up to 2 s for the vCPU threads), then "ok".
int run_registers(const RegistersCommand& command, const VmEnvironment& environment,
                  std::ostream& out, std::ostream& err)
{
    const std::string directory = vm_directory(environment, command.name);
    if (!vm_exists(directory)) {
        return vm_fail(err, no_such_vm(command.name));
    }
    const std::string path = path_in(directory, kControlSocket);
    auto socket = connect_unix(path);
    if (!socket) {
        return vm_fail(err, fmt::format("VM {} is not running ({})", command.name,
                                        state_when_gone(read_vm_state(directory))));
    }
    if (!send_all(socket->get(), "registers\n")) {
        return vm_fail(err, fmt::format("cannot send to {}: {}", path, errno_text(errno)));
    }
    const auto deadline = std::chrono::steady_clock::now() + kControlReplyTimeout;
    for (;;) {
        const LineRead reply = read_line(socket->get(), deadline);
        if (reply.end == LineEnd::line && reply.text == "ok") {
            return kExitOk;
        }
        if (reply.end == LineEnd::line && reply.text.starts_with("error: ")) {
            return vm_fail(err, fmt::format("VM {}: {}", command.name, reply.text.substr(7)));
        }
        if (reply.end == LineEnd::line) {
            out << reply.text << '\n';
            continue;
        }
        return vm_fail(err, fmt::format("{} did not finish its answer (it {})", path,
                                        reply.end == LineEnd::timeout ? "timed out" : "closed"));
    }
}

}  // namespace boxy::boxyctl
