// SPDX-License-Identifier: MIT
#include "vm_host.hpp"

#include "commands.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using boxy::boxyctl::directory_locked;
using boxy::boxyctl::FileDescriptor;
using boxy::boxyctl::format_vm_process;
using boxy::boxyctl::LineEnd;
using boxy::boxyctl::list_vms;
using boxy::boxyctl::lock_directory;
using boxy::boxyctl::make_shared_directory;
using boxy::boxyctl::path_in;
using boxy::boxyctl::read_file;
using boxy::boxyctl::read_line;
using boxy::boxyctl::read_process_stat;
using boxy::boxyctl::vm_process_alive;
using boxy::boxyctl::VmEnvironment;
using boxy::boxyctl::VmProcess;
using boxy::boxyctl::write_file_atomically;

namespace {

// A fresh directory, removed with all in it at the end of the test.
class TemporaryDirectory {
public:
    TemporaryDirectory()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "boxyctl-test.XXXXXX");
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    TemporaryDirectory(const TemporaryDirectory&) = delete;
    TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
    TemporaryDirectory(TemporaryDirectory&&) = delete;
    TemporaryDirectory& operator=(TemporaryDirectory&&) = delete;
    ~TemporaryDirectory()
    {
        std::error_code error;
        std::filesystem::remove_all(path_, error);
    }

    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A PID that no process has any more: a child, exited and reaped.
pid_t dead_pid()
{
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
}

void make_vm(const std::string& root, const std::string& name, const std::string& state_json)
{
    const std::string directory = path_in(root, name);
    std::filesystem::create_directories(directory);
    if (!state_json.empty()) {
        REQUIRE(write_file_atomically(path_in(directory, "state.json"), state_json));
    }
}

std::string state_of(pid_t pid, const char* state)
{
    return fmt::format(R"({{"name":"x","pid":{},"state":"{}","started_at":1}})", pid, state);
}

}  // namespace

TEST_CASE("vm host: files are replaced whole")
{
    const TemporaryDirectory directory;
    const std::string file = path_in(directory.path(), "state.json");
    REQUIRE(write_file_atomically(file, "first\n"));
    REQUIRE(write_file_atomically(file, "second\n"));
    const auto text = read_file(file);
    REQUIRE(text);
    CHECK(*text == "second\n");
    // No temporary file left behind.
    CHECK(std::distance(std::filesystem::directory_iterator{directory.path()},
                        std::filesystem::directory_iterator{}) == 1);

    const auto missing = read_file(path_in(directory.path(), "nope"));
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message ==
          "cannot read " + path_in(directory.path(), "nope") + ": No such file or directory");
    CHECK(path_in("/a/", "b") == "/a/b");
    CHECK(path_in("/a", "b") == "/a/b");
}

TEST_CASE("vm host: shared directories are 02770, parents included")
{
    const TemporaryDirectory directory;
    const std::string nested = path_in(directory.path(), "run/boxy/vms");
    const auto made = make_shared_directory(nested);
    REQUIRE(made);
    CHECK(*made);
    for (const std::string& path : {nested, path_in(directory.path(), "run/boxy")}) {
        struct stat info {};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        CHECK((info.st_mode & 07777) == 02770);
    }
    const auto again = make_shared_directory(nested);
    REQUIRE(again);
    CHECK_FALSE(*again);

    REQUIRE(write_file_atomically(path_in(directory.path(), "file"), "x"));
    const auto file = make_shared_directory(path_in(directory.path(), "file"));
    REQUIRE_FALSE(file);
    CHECK(file.error().message.ends_with("exists and is not a directory"));
}

TEST_CASE("vm host: directory locks")
{
    const TemporaryDirectory directory;
    CHECK_FALSE(directory_locked(directory.path()));
    {
        auto lock = lock_directory(directory.path(), false);
        REQUIRE(lock);
        CHECK(lock->valid());
        CHECK(directory_locked(directory.path()));
        // A second taker is told it is busy, not blocked.
        auto second = lock_directory(directory.path(), false);
        REQUIRE(second);
        CHECK_FALSE(second->valid());
    }
    CHECK_FALSE(directory_locked(directory.path()));
    CHECK_FALSE(lock_directory(path_in(directory.path(), "nope"), false));
}

TEST_CASE("vm host: is boxy-vm alive")
{
    const TemporaryDirectory directory;
    const pid_t self = ::getpid();
    // No process.json: the PID is all there is.
    CHECK(vm_process_alive(directory.path(), self));
    CHECK_FALSE(vm_process_alive(directory.path(), dead_pid()));
    CHECK_FALSE(vm_process_alive(directory.path(), 0));

    // process.json names this process, started when it did.
    const auto stat = read_process_stat(self);
    REQUIRE(stat);
    const std::string process = path_in(directory.path(), "process.json");
    REQUIRE(write_file_atomically(
        process, format_vm_process(VmProcess{.pid = self, .start_ticks = stat->start_ticks})));
    CHECK(vm_process_alive(directory.path(), self));
    // Same PID, another start time: a recycled PID, not boxy-vm.
    REQUIRE(write_file_atomically(
        process, format_vm_process(VmProcess{.pid = self, .start_ticks = stat->start_ticks + 1})));
    CHECK_FALSE(vm_process_alive(directory.path(), self));

    // A zombie is gone.
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    const auto zombie = [child] {
        const auto child_stat = read_process_stat(child);
        return child_stat && child_stat->state == 'Z';
    };
    for (int i = 0; i < 200 && !zombie(); ++i) {
        ::usleep(10000);
    }
    CHECK(zombie());
    CHECK_FALSE(vm_process_alive(directory.path(), child));
    int status = 0;
    ::waitpid(child, &status, 0);
}

TEST_CASE("vm host: list")
{
    const TemporaryDirectory directory;
    VmEnvironment environment;
    environment.state_root = path_in(directory.path(), "vms");
    CHECK(list_vms(environment).empty());  // no root yet

    const std::string& root = environment.state_root;
    make_vm(root, "running", state_of(::getpid(), "running"));
    make_vm(root, "crashed", state_of(dead_pid(), "running"));
    make_vm(root, "stopped", state_of(dead_pid(), "stopped"));
    make_vm(root, "broken", "{not json");
    make_vm(root, "starting", "");
    make_vm(root, "Not_A_VM", state_of(::getpid(), "running"));
    REQUIRE(write_file_atomically(path_in(root, "stray-file"), "x"));
    auto lock = lock_directory(path_in(root, "starting"), false);
    REQUIRE(lock);

    const auto rows = list_vms(environment);
    REQUIRE(rows.size() == 5);
    CHECK(rows[0].name == "broken");
    CHECK(rows[0].state == "unknown");
    CAPTURE(rows[0].error);
    CHECK(rows[0].error.value_or("").starts_with(path_in(root, "broken/state.json") +
                                                 ": not valid JSON (byte "));
    CHECK(rows[1].name == "crashed");
    CHECK(rows[1].state == "crashed");
    CHECK(rows[2].name == "running");
    CHECK(rows[2].state == "running");
    CHECK(rows[2].uptime_seconds > 0);
    CHECK(rows[3].name == "starting");
    CHECK(rows[3].state == "starting");
    CHECK(rows[4].name == "stopped");
    CHECK(rows[4].state == "stopped");
}

TEST_CASE("vm host: lines from pipes")
{
    std::array<int, 2> fds{};
    REQUIRE(::pipe(fds.data()) == 0);
    FileDescriptor reader{fds[0]};
    FileDescriptor writer{fds[1]};
    const auto soon = [] { return std::chrono::steady_clock::now() + std::chrono::seconds{5}; };

    REQUIRE(boxy::boxyctl::write_all(writer.get(), "ready\n"));
    auto line = read_line(reader.get(), soon());
    CHECK(line.end == LineEnd::line);
    CHECK(line.text == "ready");
    // Nothing more yet: a timeout.
    line =
        read_line(reader.get(), std::chrono::steady_clock::now() + std::chrono::milliseconds{50});
    CHECK(line.end == LineEnd::timeout);
    // A last line without a newline counts.
    REQUIRE(boxy::boxyctl::write_all(writer.get(), "error: no"));
    writer.reset();
    line = read_line(reader.get(), soon());
    CHECK(line.end == LineEnd::line);
    CHECK(line.text == "error: no");
    CHECK(read_line(reader.get(), soon()).end == LineEnd::end_of_file);
}

TEST_CASE("vm host: socket paths that do not fit")
{
    const auto connected = boxy::boxyctl::connect_unix("/tmp/" + std::string(200, 'x'));
    REQUIRE_FALSE(connected);
    CHECK(connected.error().message.find("use a shorter BOXY_STATE_DIR") != std::string::npos);
}

TEST_CASE("vm host: the environment")
{
    ::setenv("BOXY_STATE_DIR", "/tmp/states", 1);
    ::setenv("BOXY_VM_BINARY", "/opt/boxy-vm", 1);
    ::setenv("BOXY_START_TIMEOUT", "5", 1);
    auto environment = boxy::boxyctl::vm_environment_from_env("/dev/other");
    REQUIRE(environment);
    CHECK(environment->state_root == "/tmp/states");
    CHECK(environment->vm_binary == "/opt/boxy-vm");
    CHECK(environment->start_timeout == std::chrono::seconds{5});
    CHECK(environment->device == "/dev/other");

    for (const char* bad : {"0", "-1", "5s", "", "3601"}) {
        ::setenv("BOXY_START_TIMEOUT", bad, 1);
        const auto rejected = boxy::boxyctl::vm_environment_from_env("/dev/boxy");
        REQUIRE_FALSE(rejected);
        CHECK(rejected.error().message.starts_with("BOXY_START_TIMEOUT="));
    }

    ::unsetenv("BOXY_STATE_DIR");
    ::unsetenv("BOXY_VM_BINARY");
    ::unsetenv("BOXY_START_TIMEOUT");
    const auto defaults = boxy::boxyctl::vm_environment_from_env("/dev/boxy");
    REQUIRE(defaults);
    CHECK(defaults->state_root == "/run/boxy/vms");
    CHECK(defaults->vm_binary.empty());
    CHECK(defaults->start_timeout == std::chrono::seconds{60});
}

TEST_CASE("vm host: service-VM commands do not open the device")
{
    const TemporaryDirectory directory;
    ::setenv("BOXY_STATE_DIR", path_in(directory.path(), "vms").c_str(), 1);
    bool opened = false;
    const auto open = [&opened](const std::string&)
        -> boxy::Result<std::unique_ptr<boxy::boxyctl::Hypervisor>, boxy::boxyctl::Error> {
        opened = true;
        return boxy::make_error(boxy::boxyctl::Error{"no Boxy here"});
    };
    std::ostringstream out;
    std::ostringstream err;
    const std::vector<const char*> list{"boxyctl", "list", "--json"};
    CHECK(boxy::boxyctl::boxyctl_main(list, open, out, err) == boxy::boxyctl::kExitOk);
    CHECK(out.str() == "[]\n");
    const std::vector<const char*> stop{"boxyctl", "stop", "web"};
    CHECK(boxy::boxyctl::boxyctl_main(stop, open, out, err) == boxy::boxyctl::kExitFailure);
    CHECK(err.str() == "boxyctl: there is no VM named web (boxyctl list shows the VMs)\n");
    CHECK_FALSE(opened);
    ::unsetenv("BOXY_STATE_DIR");
}
