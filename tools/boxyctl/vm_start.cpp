// SPDX-License-Identifier: MIT
//
// boxyctl start: the checks (which create nothing), the VM directory,
// boxy-vm in a session of its own, and its "ready" line.
#include "vm_commands.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace boxy::boxyctl {

namespace {

using std::chrono::milliseconds;

// boxy-vm's --ready-fd.
constexpr int kReadyFd = 3;
// What of boxy-vm.log a failed start shows.
constexpr std::size_t kLogTailLines = 10;
// How long a failed start waits for boxy-vm to exit by itself (after its
// error line or the end of the pipe), and then for the boxy-vm it killed.
constexpr milliseconds kExitGrace{2000};
// How long a failed start waits for the boxy-vm it killed.
constexpr milliseconds kReapTimeout{10000};

// boxy-vm runs in /: every path it gets must be absolute.
std::string absolute_path(const std::string& path)
{
    std::error_code error;
    const auto absolute = std::filesystem::absolute(path, error);
    return error ? path : absolute.lexically_normal().string();
}

// The absolute path of a file the guest boots from, once it opens for
// reading as a regular file (boxy-vm checks what is inside).
Result<std::string, Error> check_boot_file(const std::string& path, std::string_view option,
                                           std::string_view what)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    const FileDescriptor fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    struct stat info {};
    if (!fd.valid() || ::fstat(fd.get(), &info) != 0) {
        const int error = errno;
        const std::string_view hint =
            error == EACCES ? " — boxy-vm runs as you and must read it" : "";
        return make_error(Error{fmt::format("{} {}: {}{}", option, path, errno_text(error), hint)});
    }
    if (!S_ISREG(info.st_mode)) {
        return make_error(Error{
            fmt::format("{} {}: not a regular file — give the path of {}", option, path, what)});
    }
    return absolute_path(path);
}

Result<void, Error> check_device(const std::string& device)
{
    // What boxy-vm needs: read and write.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    const FileDescriptor fd{::open(device.c_str(), O_RDWR | O_CLOEXEC)};
    if (!fd.valid()) {
        return make_error(Error{describe_open_error(device, errno)});
    }
    return {};
}

Result<void, Error> check_memory(std::uint32_t memory_mib, std::ostream& err)
{
    const auto meminfo = read_file("/proc/meminfo");
    const auto available_kib = meminfo ? parse_mem_available_kib(*meminfo) : std::nullopt;
    if (!available_kib) {
        err << "boxyctl: warning: cannot tell how much memory the host can spare (no "
               "MemAvailable in /proc/meminfo); not checking --memory\n";
        return {};
    }
    const std::uint64_t limit = donatable_mib(*available_kib);
    if (memory_mib > limit) {
        return make_error(Error{fmt::format(
            "--memory {} MiB is more than this host can spare: {} MiB (MemAvailable {} MiB less {} "
            "MiB kept for the host) — ask for less, or stop other VMs (boxyctl list)",
            memory_mib, limit, *available_kib / 1024, kHostReserveMib)});
    }
    return {};
}

bool is_executable_file(const std::string& path)
{
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

// $BOXY_VM_BINARY, else boxy-vm next to this boxyctl, else on $PATH.
Result<std::string, Error> find_vm_binary(const VmEnvironment& environment)
{
    if (!environment.vm_binary.empty()) {
        if (is_executable_file(environment.vm_binary)) {
            return absolute_path(environment.vm_binary);
        }
        return make_error(Error{fmt::format(
            "BOXY_VM_BINARY={}: not an executable file — point it at boxy-vm, or unset it",
            environment.vm_binary)});
    }
    std::error_code error;
    const std::string here =
        std::filesystem::read_symlink("/proc/self/exe", error).parent_path().string();
    if (!error && is_executable_file(path_in(here, "boxy-vm"))) {
        return path_in(here, "boxy-vm");
    }
    // NOLINTNEXTLINE(concurrency-mt-unsafe): boxyctl has one thread
    const char* path_variable = std::getenv("PATH");
    std::string_view search{path_variable != nullptr ? path_variable : ""};
    while (!search.empty()) {
        const auto end = std::min(search.find(':'), search.size());
        const std::string_view directory = search.substr(0, end);
        if (!directory.empty() && is_executable_file(path_in(directory, "boxy-vm"))) {
            return absolute_path(path_in(directory, "boxy-vm"));
        }
        search.remove_prefix(std::min(end + 1, search.size()));
    }
    return make_error(Error{
        fmt::format("cannot find boxy-vm next to boxyctl ({}) or on PATH — install it, or set "
                    "BOXY_VM_BINARY to its path",
                    here.empty() ? "?" : here)});
}

// The PID of a boxy-vm that still runs in `directory`, if any.
std::optional<pid_t> running_vm_process(const std::string& directory)
{
    if (const auto state = read_vm_state(directory)) {
        if (const auto pid = static_cast<pid_t>(state->pid); vm_process_alive(directory, pid)) {
            return pid;
        }
    }
    if (const auto text = read_file(path_in(directory, kProcessFile))) {
        if (const auto process = parse_vm_process(*text)) {
            if (const auto pid = static_cast<pid_t>(process->pid);
                vm_process_alive(directory, pid)) {
                return pid;
            }
        }
    }
    return std::nullopt;
}

// Creates the VM's directory and returns it locked. A directory left by a
// VM that is gone (stopped, failed, crashed) is removed first, console.log
// and all. The caller holds the state root's lock.
Result<FileDescriptor, Error> claim_vm_directory(const std::string& directory,
                                                 std::string_view name)
{
    for (int attempt = 0; attempt < 2; ++attempt) {
        const auto created = make_shared_directory(directory);
        if (!created) {
            return make_error(created.error());
        }
        auto lock = lock_directory(directory, false);
        if (!lock) {
            return make_error(lock.error());
        }
        if (!lock->valid()) {
            return make_error(
                Error{fmt::format("a VM named {} is being started by another boxyctl", name)});
        }
        if (*created) {
            return lock;
        }
        if (const auto pid = running_vm_process(directory)) {
            return make_error(Error{fmt::format(
                "a VM named {} is already running (pid {}) — stop it first (boxyctl stop {}), "
                "or choose another name",
                name, *pid, name)});
        }
        std::error_code error;
        std::filesystem::remove_all(directory, error);
        if (error) {
            return make_error(Error{fmt::format("cannot remove the old VM directory {}: {}",
                                                directory, error.message())});
        }
    }
    return make_error(Error{fmt::format("cannot create {}: it keeps coming back", directory)});
}

// A descriptor moved above kReadyFd, so that the child's dup2 onto 0..3
// always copies it: dup2 onto itself would keep FD_CLOEXEC.
Result<FileDescriptor, Error> above_ready_fd(FileDescriptor fd, std::string_view what)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): fcntl(2) is variadic
    FileDescriptor moved{::fcntl(fd.get(), F_DUPFD_CLOEXEC, kReadyFd + 1)};
    if (!moved.valid()) {
        return make_error(Error{fmt::format("cannot set up {}: {}", what, errno_text(errno))});
    }
    return moved;
}

struct SpawnedVm {
    pid_t pid = 0;
    FileDescriptor ready;  // read end of --ready-fd
};

// boxy-vm, detached: its own session, stdin /dev/null, stdout and stderr
// to DIR/boxy-vm.log, the ready pipe as kReadyFd, nothing else open, in /,
// umask 007 (group boxy may use what it creates).
Result<SpawnedVm, Error> spawn_vm(const std::string& binary, std::vector<std::string> args,
                                  const std::string& directory)
{
    const std::string log_path = path_in(directory, kProcessLogFile);
    constexpr int kLogFlags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    FileDescriptor log_file{::open(log_path.c_str(), kLogFlags, 0660)};
    if (!log_file.valid()) {
        return make_error(Error{fmt::format("cannot create {}: {}", log_path, errno_text(errno))});
    }
    auto log = above_ready_fd(std::move(log_file), log_path);
    if (!log) {
        return make_error(log.error());
    }
    std::array<int, 2> pipe_fds{-1, -1};
    if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
        return make_error(Error{fmt::format("cannot create a pipe: {}", errno_text(errno))});
    }
    FileDescriptor ready_read{pipe_fds[0]};
    auto ready_write = above_ready_fd(FileDescriptor{pipe_fds[1]}, "the ready pipe");
    if (!ready_write) {
        return make_error(ready_write.error());
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log->get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log->get(), STDERR_FILENO);
    posix_spawn_file_actions_adddup2(&actions, ready_write->get(), kReadyFd);
    posix_spawn_file_actions_addclosefrom_np(&actions, kReadyFd + 1);
    posix_spawn_file_actions_addchdir_np(&actions, "/");

    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    sigset_t signals;
    sigemptyset(&signals);
    posix_spawnattr_setsigmask(&attributes, &signals);
    for (const int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) {
        sigaddset(&signals, signal);  // back to default even if ignored here
    }
    posix_spawnattr_setsigdefault(&attributes, &signals);

    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);

    const mode_t old_umask = ::umask(007);
    pid_t pid = 0;
    const int error =
        ::posix_spawn(&pid, binary.c_str(), &actions, &attributes, argv.data(), environ);
    ::umask(old_umask);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
        return make_error(Error{fmt::format("cannot run {}: {}", binary, errno_text(error))});
    }
    return SpawnedVm{.pid = pid, .ready = std::move(ready_read)};
}

// Reaps a boxy-vm that did not get ready, after `grace` to exit on its
// own, killing it if need be; how it ended.
std::string abandon(pid_t pid, milliseconds grace)
{
    const FileDescriptor pidfd{open_pidfd(pid)};
    if (pidfd.valid() && grace.count() > 0) {
        (void)wait_for_exit(pidfd.get(), grace);
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        if (pidfd.valid()) {
            (void)wait_for_exit(pidfd.get(), kReapTimeout);
        }
        if (::waitpid(pid, &status, WNOHANG) != pid) {
            return fmt::format("boxy-vm (pid {}) did not exit after SIGKILL", pid);
        }
        return "boxyctl killed boxy-vm";
    }
    if (WIFEXITED(status)) {
        return fmt::format("boxy-vm exited with status {}", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        const char* name = ::sigabbrev_np(WTERMSIG(status));
        return fmt::format("boxy-vm was killed by SIG{}", name != nullptr ? name : "?");
    }
    return "boxy-vm ended";
}

std::vector<std::string> last_lines(const std::string& text, std::size_t count)
{
    std::vector<std::string> lines;
    std::string_view rest{text};
    while (!rest.empty()) {
        const auto end = std::min(rest.find('\n'), rest.size());
        if (end > 0) {
            lines.emplace_back(rest.substr(0, end));
        }
        rest.remove_prefix(std::min(end + 1, rest.size()));
    }
    if (lines.size() > count) {
        lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(count));
    }
    return lines;
}

std::vector<std::string> vm_arguments(const StartCommand& command, const std::string& binary,
                                      const std::string& kernel,
                                      const std::optional<std::string>& initrd,
                                      const std::string& device, const std::string& directory)
{
    std::vector<std::string> args{binary,
                                  "--name",
                                  command.name,
                                  "--kernel",
                                  kernel,
                                  "--memory",
                                  fmt::format("{}", command.memory_mib),
                                  "--vcpus",
                                  fmt::format("{}", command.vcpus),
                                  "--state-dir",
                                  directory,
                                  "--ready-fd",
                                  fmt::format("{}", kReadyFd)};
    if (initrd) {
        args.insert(args.end(), {"--initrd", *initrd});
    }
    if (command.cmdline) {
        args.insert(args.end(), {"--cmdline", *command.cmdline});
    }
    // The device start checked (--device, $BOXY_DEVICE), if not boxy-vm's
    // default.
    if (device != kDefaultDevice) {
        args.insert(args.end(), {"--device", absolute_path(device)});
    }
    return args;
}

}  // namespace

int run_start(const StartCommand& command, const VmEnvironment& environment, std::ostream& out,
              std::ostream& err)
{
    // Everything that can be checked before anything is created.
    const auto kernel = check_boot_file(command.kernel, "--kernel", "a bzImage");
    if (!kernel) {
        return vm_fail(err, kernel.error().message);
    }
    std::optional<std::string> initrd;
    if (command.initrd) {
        const auto checked = check_boot_file(*command.initrd, "--initrd", "an initramfs");
        if (!checked) {
            return vm_fail(err, checked.error().message);
        }
        initrd = *checked;
    }
    if (const auto device = check_device(environment.device); !device) {
        return vm_fail(err, device.error().message);
    }
    if (const auto memory = check_memory(command.memory_mib, err); !memory) {
        return vm_fail(err, memory.error().message);
    }
    const auto binary = find_vm_binary(environment);
    if (!binary) {
        return vm_fail(err, binary.error().message);
    }

    // The directory, claimed under the state root's lock: two starts of
    // one name cannot both get it.
    const std::string directory = vm_directory(environment, command.name);
    FileDescriptor directory_lock;
    {
        const auto root = make_shared_directory(environment.state_root);
        if (!root) {
            return vm_fail(err, root.error().message);
        }
        const auto root_lock = lock_directory(environment.state_root, true);
        if (!root_lock) {
            return vm_fail(err, root_lock.error().message);
        }
        auto claimed = claim_vm_directory(directory, command.name);
        if (!claimed) {
            return vm_fail(err, claimed.error().message);
        }
        directory_lock = std::move(*claimed);
    }

    const InterruptGuard interrupts;  // Ctrl-C now cleans up
    const auto failed = [&](std::string_view message) {
        vm_fail(err, fmt::format("VM {} did not start: {}", command.name, message));
        std::error_code error;
        std::filesystem::remove_all(directory, error);
        return kExitFailure;
    };
    auto spawned = spawn_vm(
        *binary, vm_arguments(command, *binary, *kernel, initrd, environment.device, directory),
        directory);
    if (!spawned) {
        return failed(spawned.error().message);
    }
    if (const auto stat = read_process_stat(spawned->pid)) {
        (void)write_file_atomically(
            path_in(directory, kProcessFile),
            format_vm_process(VmProcess{.pid = spawned->pid, .start_ticks = stat->start_ticks}));
    }

    const LineRead ready = read_line(spawned->ready.get(),
                                     std::chrono::steady_clock::now() + environment.start_timeout);
    if (ready.end == LineEnd::line && ready.text == "ready") {
        out << fmt::format("started {} (pid {}, {}, {} MiB)\n", command.name, spawned->pid,
                           vcpu_count_text(command.vcpus), command.memory_mib);
        return kExitOk;
    }

    std::string why;
    switch (ready.end) {
        case LineEnd::line:
            why = ready.text.starts_with("error: ")
                      ? ready.text.substr(7)
                      : fmt::format("boxy-vm said \"{}\" instead of \"ready\"", ready.text);
            break;
        case LineEnd::end_of_file: why = "boxy-vm ended before the VM was ready"; break;
        case LineEnd::timeout:
            why = fmt::format("boxy-vm was not ready within {} s (BOXY_START_TIMEOUT)",
                              environment.start_timeout.count());
            break;
        case LineEnd::interrupted: why = "interrupted"; break;
        case LineEnd::error:
            why = fmt::format("cannot read the ready pipe: {}", errno_text(ready.error));
            break;
    }
    // The pipe ends while boxy-vm exits: give it a moment to finish.
    const bool ending = ready.end == LineEnd::end_of_file || ready.end == LineEnd::line;
    why += fmt::format(" ({})", abandon(spawned->pid, ending ? kExitGrace : milliseconds{0}));
    // Without an error line, boxy-vm.log is all there is to go on.
    if (!(ready.end == LineEnd::line && ready.text.starts_with("error: "))) {
        if (const auto log = read_file(path_in(directory, kProcessLogFile))) {
            const auto lines = last_lines(*log, kLogTailLines);
            if (!lines.empty()) {
                why += "; boxy-vm.log ends with:";
                for (const std::string& line : lines) {
                    why += "\n    " + line;
                }
            }
        }
    }
    return failed(why);
}

}  // namespace boxy::boxyctl
