// SPDX-License-Identifier: MIT
#include "vm_host.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace boxy::boxyctl {

namespace {

constexpr std::string_view kAskForAccess =
    " — run boxyctl as root, or as a member of the boxy group";

Error system_error(std::string_view what, const std::string& path, int error)
{
    return Error{fmt::format("{} {}: {}{}", what, path, errno_text(error),
                             error == EACCES || error == EPERM ? kAskForAccess : "")};
}

// Group boxy's GID, from /etc/group (not NSS: the static boxyctl cannot
// load NSS modules; `groupadd --system boxy` writes /etc/group).
std::optional<gid_t> boxy_group_id()
{
    const auto etc_group = read_file("/etc/group");
    if (!etc_group) {
        return std::nullopt;
    }
    return parse_group_id(*etc_group, kBoxyGroup);
}

const char* environment_variable(const char* name)
{
    return std::getenv(name);  // NOLINT(concurrency-mt-unsafe): boxyctl has one thread
}

Result<void, Error> share_with_boxy_group(const std::string& path)
{
    if (const auto gid = boxy_group_id()) {
        // EPERM: the caller is not in group boxy (only root and members
        // may give a file to it), so the directory stays the caller's alone.
        if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0 && errno != EPERM) {
            return make_error(system_error("cannot give group boxy", path, errno));
        }
    }
    // After chown, which clears the set-group-ID bit for non-root callers.
    if (::chmod(path.c_str(), 02770) != 0) {
        return make_error(system_error("cannot chmod", path, errno));
    }
    return {};
}

}  // namespace

Result<VmEnvironment, Error> vm_environment_from_env(const std::string& device)
{
    VmEnvironment environment;
    environment.device = device;
    if (const char* root = environment_variable("BOXY_STATE_DIR");
        root != nullptr && *root != '\0') {
        // Absolute: boxy-vm runs in / and gets DIR on its command line.
        std::error_code error;
        environment.state_root = std::filesystem::absolute(root, error).lexically_normal();
        if (error) {
            environment.state_root = root;
        }
    }
    if (const char* binary = environment_variable("BOXY_VM_BINARY"); binary != nullptr) {
        environment.vm_binary = binary;
    }
    if (const char* timeout = environment_variable("BOXY_START_TIMEOUT"); timeout != nullptr) {
        const std::string_view text{timeout};
        unsigned seconds = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
        if (error != std::errc{} || end != text.data() + text.size() || seconds == 0 ||
            seconds > 3600) {
            return make_error(Error{fmt::format(
                "BOXY_START_TIMEOUT={}: want whole seconds from 1 to 3600 (or unset it)", text)});
        }
        environment.start_timeout = std::chrono::seconds{seconds};
    }
    return environment;
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept
{
    if (this != &other) {
        reset(other.release());
    }
    return *this;
}

int FileDescriptor::release()
{
    return std::exchange(fd_, -1);
}

void FileDescriptor::reset(int fd)
{
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
}

std::string errno_text(int error)
{
    return std::generic_category().message(error);
}

std::string vm_directory(const VmEnvironment& environment, std::string_view name)
{
    return path_in(environment.state_root, name);
}

std::string path_in(std::string_view directory, std::string_view file)
{
    std::string path{directory};
    if (!path.ends_with('/')) {
        path += '/';
    }
    path += file;
    return path;
}

Result<std::string, Error> read_file(const std::string& path)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    const FileDescriptor fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (!fd.valid()) {
        return make_error(system_error("cannot read", path, errno));
    }
    std::string text;
    std::array<char, 4096> buffer{};
    for (;;) {
        const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return make_error(system_error("cannot read", path, errno));
        }
        if (got == 0) {
            return text;
        }
        text.append(buffer.data(), static_cast<std::size_t>(got));
    }
}

bool write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t done = ::write(fd, data.data(), data.size());
        if (done < 0 && errno == EINTR) {
            continue;
        }
        if (done <= 0) {
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(done));
    }
    return true;
}

bool send_all(int socket, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t done = ::send(socket, data.data(), data.size(), MSG_NOSIGNAL);
        if (done < 0 && errno == EINTR) {
            continue;
        }
        if (done <= 0) {
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(done));
    }
    return true;
}

LineRead read_line(int fd, std::chrono::steady_clock::time_point deadline)
{
    LineRead result;
    for (;;) {
        if (InterruptGuard::interrupted()) {
            result.end = LineEnd::interrupted;
            return result;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
        const int ready =
            ::poll(&entry, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready < 0) {
            result.error = errno;
            return result;
        }
        if (ready == 0) {
            result.end = LineEnd::timeout;
            return result;
        }
        // One byte at a time: what follows the line is not ours to take.
        char byte = 0;
        const ssize_t got = ::read(fd, &byte, 1);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            result.error = errno;
            return result;
        }
        if (got == 0 || byte == '\n') {
            result.end = got == 0 && result.text.empty() ? LineEnd::end_of_file : LineEnd::line;
            return result;
        }
        result.text += byte;
    }
}

namespace {

volatile std::sig_atomic_t interrupt_signal = 0;

extern "C" void note_interrupt(int signal)
{
    interrupt_signal = signal;
}

}  // namespace

InterruptGuard::InterruptGuard()
{
    interrupt_signal = 0;
    struct sigaction action {};
    action.sa_handler = note_interrupt;  // no SA_RESTART: poll(2) returns EINTR
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_int_);
    ::sigaction(SIGTERM, &action, &old_term_);
    ::sigaction(SIGHUP, &action, &old_hup_);
}

InterruptGuard::~InterruptGuard()
{
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGHUP, &old_hup_, nullptr);
}

bool InterruptGuard::interrupted()
{
    return interrupt_signal != 0;
}

Result<void, Error> write_file_atomically(const std::string& path, std::string_view text)
{
    const std::string temporary = fmt::format("{}.tmp.{}", path, ::getpid());
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    FileDescriptor fd{::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660)};
    if (!fd.valid()) {
        return make_error(system_error("cannot write", temporary, errno));
    }
    if (!write_all(fd.get(), text) || ::close(fd.release()) != 0 ||
        ::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        return make_error(system_error("cannot write", path, error));
    }
    return {};
}

Result<VmState, Error> read_vm_state(const std::string& directory)
{
    const std::string path = path_in(directory, kStateFile);
    const auto text = read_file(path);
    if (!text) {
        return make_error(text.error());
    }
    auto state = parse_vm_state(*text);
    if (!state) {
        return make_error(Error{fmt::format("{}: {}", path, state.error().message)});
    }
    return state;
}

std::optional<ProcessStat> read_process_stat(pid_t pid)
{
    const auto text = read_file(fmt::format("/proc/{}/stat", pid));
    if (!text) {
        return std::nullopt;
    }
    return parse_process_stat(*text);
}

bool vm_process_alive(const std::string& directory, pid_t pid)
{
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) {
        return false;
    }
    const auto stat = read_process_stat(pid);
    if (!stat) {
        // kill(2) says it exists, /proc hides it (hidepid): believe kill.
        return true;
    }
    if (stat->state == 'Z' || stat->state == 'X') {
        return false;
    }
    const auto text = read_file(path_in(directory, kProcessFile));
    if (!text) {
        return true;  // not started by this boxyctl: the PID is all there is
    }
    const auto process = parse_vm_process(*text);
    if (!process || process->pid != pid) {
        return true;
    }
    return process->start_ticks == stat->start_ticks;
}

FileDescriptor open_vm_process(const std::string& directory, pid_t pid)
{
    if (pid <= 0) {
        return FileDescriptor{};
    }
    // First the pidfd, then the check: once the pidfd is open the PID
    // cannot go to another process behind boxyctl's back.
    FileDescriptor pidfd{open_pidfd(pid)};
    if (!pidfd.valid() || !vm_process_alive(directory, pid)) {
        return FileDescriptor{};
    }
    return pidfd;
}

int open_pidfd(pid_t pid)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): syscall(2) is variadic
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

int signal_pidfd(int pidfd, int signal)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): syscall(2) is variadic
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0U));
}

bool wait_for_exit(int pidfd, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd entry{.fd = pidfd, .events = POLLIN, .revents = 0};
        const int ready =
            ::poll(&entry, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
        if (ready > 0) {
            return true;  // a pidfd polls readable once its process exited
        }
        if (ready == 0 || errno != EINTR) {
            return false;
        }
    }
}

Result<FileDescriptor, Error> lock_directory(const std::string& directory, bool wait)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    FileDescriptor fd{::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (!fd.valid()) {
        return make_error(system_error("cannot open", directory, errno));
    }
    for (;;) {
        if (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) {
            return fd;
        }
        if (errno == EWOULDBLOCK && !wait) {
            return FileDescriptor{};
        }
        if (errno != EINTR) {
            return make_error(system_error("cannot lock", directory, errno));
        }
    }
}

bool directory_locked(const std::string& directory)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    const FileDescriptor fd{::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    return fd.valid() && ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

Result<bool, Error> make_shared_directory(const std::string& path)
{
    if (::mkdir(path.c_str(), 02770) == 0) {
        BOXY_TRY(share_with_boxy_group(path));
        return true;
    }
    const int error = errno;
    if (error == EEXIST) {
        struct stat info {};
        if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
            return make_error(Error{fmt::format("{} exists and is not a directory", path)});
        }
        return false;
    }
    const std::string parent = std::filesystem::path{path}.parent_path();
    if (error != ENOENT || parent.empty() || parent == path) {
        return make_error(system_error("cannot create directory", path, error));
    }
    const auto made_parent = make_shared_directory(parent);
    if (!made_parent) {
        return make_error(made_parent.error());
    }
    return make_shared_directory(path);
}

Result<FileDescriptor, Error> connect_unix(const std::string& path)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path)) {
        return make_error(Error{fmt::format(
            "{}: the path is {} bytes, a Unix socket's may have at most {}; use a shorter "
            "BOXY_STATE_DIR",
            path, path.size(), sizeof(address.sun_path) - 1)});
    }
    std::copy(path.begin(), path.end(), std::begin(address.sun_path));
    FileDescriptor fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!fd.valid()) {
        return make_error(system_error("cannot create a socket for", path, errno));
    }
    // connect(2) takes every address family as the generic sockaddr.
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        return make_error(system_error("cannot connect to", path, errno));
    }
    return fd;
}

std::vector<VmListRow> list_vms(const VmEnvironment& environment)
{
    std::vector<VmListRow> rows;
    std::error_code error;
    std::filesystem::directory_iterator entries{environment.state_root, error};
    if (error) {
        return rows;
    }
    const std::int64_t now = unix_now();
    for (const auto& entry : entries) {
        const std::string name = entry.path().filename();
        if (!entry.is_directory(error) || check_vm_name(name)) {
            continue;  // not boxyctl's: leave it alone
        }
        const std::string directory = entry.path();
        const auto state = read_vm_state(directory);
        VmObservation seen{.now = now};
        if (state) {
            seen.process_alive = vm_process_alive(directory, static_cast<pid_t>(state->pid));
        } else {
            seen.being_started = directory_locked(directory);
        }
        rows.push_back(make_list_row(name, state, seen));
    }
    std::sort(rows.begin(), rows.end(),
              [](const VmListRow& a, const VmListRow& b) { return a.name < b.name; });
    return rows;
}

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace boxy::boxyctl
