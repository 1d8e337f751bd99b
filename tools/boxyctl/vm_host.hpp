// SPDX-License-Identifier: MIT
//
// The host side of service VMs: the state directory and the files in it,
// boxy-vm's process, directory locks and Unix sockets. Everything here does
// I/O; what the answers mean is vm_state.hpp's business.
#pragma once

#include "device.hpp"
#include "hypervisor.hpp"
#include "vm_state.hpp"

#include <boxy/result.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace boxy::boxyctl {

// A VM directory, as the boxy-vm protocol has it (README.md).
inline constexpr std::string_view kStateFile = "state.json";
inline constexpr std::string_view kConsoleLogFile = "console.log";
inline constexpr std::string_view kConsoleSocket = "console.sock";
inline constexpr std::string_view kControlSocket = "control.sock";
inline constexpr std::string_view kProcessLogFile = "boxy-vm.log";
// boxyctl's own: which process it started (VmProcess).
inline constexpr std::string_view kProcessFile = "process.json";

inline constexpr std::chrono::seconds kDefaultStartTimeout{60};

// Where the service-VM commands find things; main() fills it from the
// environment, the tests by hand.
struct VmEnvironment {
    std::string state_root{kDefaultStateRoot};                 // $BOXY_STATE_DIR
    std::string device{kDefaultDevice};                        // --device, $BOXY_DEVICE
    std::string vm_binary;                                     // $BOXY_VM_BINARY; empty: search
    std::chrono::seconds start_timeout{kDefaultStartTimeout};  // $BOXY_START_TIMEOUT
};

// The environment variables above; a malformed BOXY_START_TIMEOUT is an
// error.
[[nodiscard]] Result<VmEnvironment, Error> vm_environment_from_env(const std::string& device);

// An owned file descriptor, closed on destruction.
class FileDescriptor {
public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) : fd_{fd} {}
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    FileDescriptor(FileDescriptor&& other) noexcept : fd_{other.release()} {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept;
    ~FileDescriptor() { reset(); }

    [[nodiscard]] int get() const { return fd_; }
    [[nodiscard]] bool valid() const { return fd_ >= 0; }
    int release();
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

[[nodiscard]] std::string errno_text(int error);
[[nodiscard]] std::string vm_directory(const VmEnvironment& environment, std::string_view name);
[[nodiscard]] std::string path_in(std::string_view directory, std::string_view file);

// The whole file; errors name the path.
[[nodiscard]] Result<std::string, Error> read_file(const std::string& path);
// Through a temporary file and rename(2): readers see the old or the new
// text, never a part.
[[nodiscard]] Result<void, Error> write_file_atomically(const std::string& path,
                                                        std::string_view text);
// Writes all of `data` to `fd`, retrying short writes and EINTR; false
// with errno set on failure.
[[nodiscard]] bool write_all(int fd, std::string_view data);

// send(2) with MSG_NOSIGNAL: a peer that went away is EPIPE, not SIGPIPE.
[[nodiscard]] bool send_all(int socket, std::string_view data);

// One line from `fd`, as the boxy-vm protocol's pipes and sockets send
// them; text is without its newline. A last line without one counts.
enum class LineEnd { line, end_of_file, timeout, interrupted, error };
struct LineRead {
    LineEnd end = LineEnd::error;
    std::string text;
    int error = 0;  // errno for LineEnd::error
};
[[nodiscard]] LineRead read_line(int fd, std::chrono::steady_clock::time_point deadline);

// While one lives, SIGINT, SIGTERM and SIGHUP only set a flag (and
// interrupt blocking calls), so that boxyctl can clean up and, in console,
// restore the terminal. The old handlers come back on destruction.
class InterruptGuard {
public:
    InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard(InterruptGuard&&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;
    InterruptGuard& operator=(InterruptGuard&&) = delete;
    ~InterruptGuard();

    [[nodiscard]] static bool interrupted();

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
    struct sigaction old_hup_ {};
};

// DIR/state.json; errors start with its path.
[[nodiscard]] Result<VmState, Error> read_vm_state(const std::string& directory);

// /proc/PID/stat, or nothing when it is gone (or hidden from us).
[[nodiscard]] std::optional<ProcessStat> read_process_stat(pid_t pid);
// Whether the boxy-vm of the VM in `directory` still runs as `pid`: the
// process exists, is no zombie, and (when process.json has it) started when
// boxyctl started boxy-vm, so that a recycled PID does not count.
[[nodiscard]] bool vm_process_alive(const std::string& directory, pid_t pid);
// A pidfd of that boxy-vm, or an empty descriptor when it is gone. Signals
// through it cannot hit a later process with the same PID.
[[nodiscard]] FileDescriptor open_vm_process(const std::string& directory, pid_t pid);
// pidfd_open(2) and pidfd_send_signal(2), through syscall(2): Debian 12's
// <sys/pidfd.h> (glibc 2.36) lacks extern "C". -1 with errno on failure.
[[nodiscard]] int open_pidfd(pid_t pid);
[[nodiscard]] int signal_pidfd(int pidfd, int signal);
// Waits until the process of `pidfd` exits; false after `timeout`.
[[nodiscard]] bool wait_for_exit(int pidfd, std::chrono::milliseconds timeout);

// flock(2) on the directory itself: `boxyctl start` holds it exclusively
// from mkdir until boxy-vm is ready (or gone), and around the check and
// creation of a VM directory on the state root.
[[nodiscard]] Result<FileDescriptor, Error> lock_directory(const std::string& directory, bool wait);
// Whether a `boxyctl start` holds `directory` now.
[[nodiscard]] bool directory_locked(const std::string& directory);

// mkdir(2) `path` (and missing parents) as 02770, group boxy when that
// group exists; set-group-ID, so that what boxy-vm creates inside belongs
// to group boxy too. False when it already existed (left as it is).
[[nodiscard]] Result<bool, Error> make_shared_directory(const std::string& path);

// A connected Unix stream socket; errors name the path.
[[nodiscard]] Result<FileDescriptor, Error> connect_unix(const std::string& path);

// Every VM directory under the state root (none when the root does not
// exist), by name.
[[nodiscard]] std::vector<VmListRow> list_vms(const VmEnvironment& environment);

// Unix seconds.
[[nodiscard]] std::int64_t unix_now();

}  // namespace boxy::boxyctl
