// SPDX-License-Identifier: MIT
//
// The whole process minus the ioctls: run_vm over the fake kernel, in a
// temporary VM directory, with scripted guests. Checks the state
// directory protocol: state.json, console.log, the sockets, the ready pipe.
#include "vm_runtime.hpp"

#include "acpi.hpp"
#include "fake_kernel.hpp"
#include "temp_dir.hpp"
#include "test_kernel.hpp"
#include "unix_socket.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace boxy::vm;        // NOLINT(google-build-using-namespace): test brevity
using namespace boxy::vm::test;  // NOLINT(google-build-using-namespace): test brevity

namespace {

constexpr std::uint8_t kS5 = (kSleepTypeS5 << kSleepTypeShift) | kSleepEnable;

// Reads what comes on `fd` until end of file (or 10 s).
std::string read_all(int fd)
{
    std::string text;
    std::array<char, 256> buffer{};
    for (int i = 0; i < 1000; ++i) {
        pollfd entry{fd, POLLIN, 0};
        if (::poll(&entry, 1, 10) <= 0) {
            continue;
        }
        const ssize_t got = ::read(fd, buffer.data(), buffer.size());
        if (got <= 0) {
            break;
        }
        text.append(buffer.data(), static_cast<std::size_t>(got));
    }
    return text;
}

// One line from `fd` (or what came within 10 s).
std::string read_line(int fd)
{
    std::string text;
    char c = 0;
    for (int i = 0; i < 1000 && (text.empty() || text.back() != '\n'); ++i) {
        pollfd entry{fd, POLLIN, 0};
        if (::poll(&entry, 1, 10) > 0) {
            if (::read(fd, &c, 1) != 1) {
                break;
            }
            text.push_back(c);
        }
    }
    return text;
}

struct TestVm {
    TempDir dir;
    FakeKernel kernel;
    Options options;
    std::array<int, 2> ready{-1, -1};
    std::array<int, 2> terminate{-1, -1};
    std::thread thread;
    std::atomic<int> exit_code{-1};

    TestVm()
    {
        dir.write("vmlinuz", make_bzimage(SyntheticKernel{}));
        REQUIRE(::pipe(ready.data()) == 0);
        REQUIRE(::pipe(terminate.data()) == 0);
        options.name = "web";
        options.kernel = dir.file("vmlinuz");
        options.memory_mib = 64;
        options.vcpus = 2;
        options.state_dir = dir.path();
        options.ready_fd = ready[1];  // run_vm closes it
    }
    TestVm(const TestVm&) = delete;
    TestVm& operator=(const TestVm&) = delete;
    TestVm(TestVm&&) = delete;
    TestVm& operator=(TestVm&&) = delete;
    ~TestVm()
    {
        if (thread.joinable()) {
            (void)::write(terminate[1], "x", 1);
            thread.join();
        }
        ::close(ready[0]);
        ::close(terminate[0]);
        ::close(terminate[1]);
    }

    int run()
    {
        auto files = validate(options);
        REQUIRE(files);
        return run_vm(options, *files, kernel, terminate[0]);
    }
    // In the background; returns once the ready pipe has its line.
    std::string start()
    {
        auto files = validate(options);
        REQUIRE(files);
        thread = std::thread{[this, f = std::make_shared<BootFiles>(std::move(files).value())] {
            exit_code = run_vm(options, *f, kernel, terminate[0]);
        }};
        return read_line(ready[0]);
    }
    int join()
    {
        thread.join();
        return exit_code;
    }
    nlohmann::json state() const { return nlohmann::json::parse(dir.read("state.json")); }
    std::string control(const std::string& command) const
    {
        auto socket = connect_unix(dir.file("control.sock"));
        REQUIRE(socket);
        const std::string line = command + "\n";
        REQUIRE(::send(socket->get(), line.data(), line.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(line.size()));
        return read_line(socket->get());
    }
    // A multi-line answer, up to its final "ok" (or end of file).
    std::string control_until_ok(const std::string& command) const
    {
        auto socket = connect_unix(dir.file("control.sock"));
        REQUIRE(socket);
        const std::string line = command + "\n";
        REQUIRE(::send(socket->get(), line.data(), line.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(line.size()));
        std::string text;
        for (std::string got = read_line(socket->get()); !got.empty();
             got = read_line(socket->get())) {
            text += got;
            if (got == "ok\n") {
                break;
            }
        }
        return text;
    }
};

}  // namespace

TEST_CASE("runtime: boots, prints on COM1 and powers off", "[runtime]")
{
    TestVm vm;
    vm.kernel.scripts[0] = {io_out(0x3F8, 1, 'h'), io_out(0x3F8, 1, 'i'), io_in(0x3FD, 1),
                            mmio(0x2000'0000, 4, std::nullopt), io_out(kSleepControlPort, 1, kS5)};
    CHECK(vm.run() == kExitOk);
    CHECK(read_all(vm.ready[0]) == "ready\n");

    const auto state = vm.state();
    CHECK(state["name"] == "web");
    CHECK(state["pid"] == ::getpid());
    CHECK(state["state"] == "stopped");
    CHECK(state["exit_reason"] == "poweroff");
    CHECK(state["vcpus"] == 2);
    CHECK(state["memory_mib"] == 64);
    CHECK(state["kernel"] == vm.options.kernel);
    CHECK(state["started_at"] > 1'600'000'000);
    CHECK(vm.dir.read("console.log") == "hi");
    CHECK_FALSE(vm.dir.exists("console.sock"));
    CHECK_FALSE(vm.dir.exists("control.sock"));
    const std::string log = vm.dir.read("boxy-vm.log");
    CHECK(log.find("VM destroyed") != std::string::npos);
    CHECK(log.find("unknown MMIO read: 0x20000000") != std::string::npos);

    FakeKernelState& k = vm.kernel.state;
    CHECK(k.vm_destroyed);
    CHECK(k.vcpus_created == 2);
    CHECK(k.donated == 64 * kMiB);
    CHECK(k.cmdline == "console=hvc0 tsc_early_khz=2500000");
    REQUIRE(k.regs.count(0) == 1);
    CHECK(k.regs.count(1) == 0);         // vCPU 1 waits for its start-up IPI
    CHECK(k.regs[0].rip == 0x100'0200);  // pref_address + 0x200: startup_64
    CHECK(k.answers[0] == std::vector<std::uint64_t>{0x60, 0xFFFF'FFFF});
}

TEST_CASE("runtime: reset and triple fault stop the VM", "[runtime]")
{
    TestVm vm;
    SECTION("reset through the FADT reset register")
    {
        vm.kernel.scripts[1] = {io_out(kResetPort, 1, kResetValue)};
        CHECK(vm.run() == kExitOk);
        CHECK(vm.state()["exit_reason"] == "reset");
    }
    SECTION("triple fault")
    {
        vm.kernel.scripts[0] = {exit_of(BOXY_VM_EXIT_SHUTDOWN)};
        CHECK(vm.run() == kExitOk);
        CHECK(vm.state()["state"] == "stopped");
        CHECK(vm.state()["exit_reason"] == "triple fault");
    }
}

TEST_CASE("runtime: a failed vCPU fails the VM with a register dump", "[runtime]")
{
    TestVm vm;
    Step failed = exit_of(BOXY_VM_EXIT_FAILED);
    failed.exit.u.failed.cause = BOXY_VM_FAIL_EMULATION;
    failed.exit.u.failed.rip = 0xFFFF'FFFF'8100'1234;
    vm.kernel.scripts[1] = {failed};
    CHECK(vm.run() == kExitFailure);
    const auto state = vm.state();
    CHECK(state["state"] == "failed");
    const std::string reason = state["exit_reason"];
    CHECK(reason.rfind("error: vCPU 1 failed: an I/O or MMIO instruction", 0) == 0);
    const std::string log = vm.dir.read("boxy-vm.log");
    CHECK(log.find("vCPU 1 registers:") != std::string::npos);
    CHECK(log.find("rip ffffffff81001234") != std::string::npos);
    CHECK(vm.kernel.state.vm_destroyed);
}

TEST_CASE("runtime: a failing RUN fails the VM", "[runtime]")
{
    TestVm vm;
    Step error;
    error.kind = Step::Kind::run_error;
    vm.kernel.scripts[0] = {error};
    CHECK(vm.run() == kExitFailure);
    CHECK(vm.state()["exit_reason"] == "error: vCPU 0: BOXY_IOCTL_RUN failed: Input/output error");
}

TEST_CASE("runtime: failing before ready reports on the pipe", "[runtime]")
{
    TestVm vm;
    vm.kernel.refuse_vm = true;
    CHECK(vm.run() == kExitFailure);
    const std::string ready = read_all(vm.ready[0]);
    CHECK(ready == "error: BOXY_IOCTL_VM_CREATE failed: Device or resource busy\n");
    CHECK(vm.state()["state"] == "failed");
    CHECK(vm.state()["exit_reason"] ==
          "error: BOXY_IOCTL_VM_CREATE failed: Device or resource busy");
    CHECK_FALSE(vm.dir.exists("control.sock"));
}

TEST_CASE("runtime: SIGTERM (the terminate descriptor) stops a running VM", "[runtime]")
{
    TestVm vm;
    REQUIRE(vm.start() == "ready\n");
    CHECK(vm.state()["state"] == "running");
    CHECK(vm.dir.exists("console.sock"));
    REQUIRE(::write(vm.terminate[1], "x", 1) == 1);
    CHECK(vm.join() == kExitOk);
    CHECK(vm.state()["state"] == "stopped");
    CHECK(vm.state()["exit_reason"] == "killed");
    CHECK(vm.kernel.state.vm_destroyed);
}

TEST_CASE("runtime: control socket status, and stop before the guest can take it", "[runtime]")
{
    TestVm vm;
    REQUIRE(vm.start() == "ready\n");
    const auto status = nlohmann::json::parse(vm.control("status"));
    CHECK(status["state"] == "running");
    CHECK(status["name"] == "web");
    CHECK(vm.control("reboot") == "error: unknown command\n");
    // The guest never set up its keyboard: it cannot be asked.
    CHECK(vm.control("stop").rfind("error: ", 0) == 0);
    CHECK(vm.state()["state"] == "running");
}

TEST_CASE("runtime: registers kicks every vCPU out of RUN and answers for each", "[runtime]")
{
    TestVm vm;
    vm.options.vcpus = 2;
    REQUIRE(vm.start() == "ready\n");
    // Both vCPUs sit in RUN (halted, or waiting for a start-up IPI).
    const std::string text = vm.control_until_ok("registers");
    CHECK(text.find("vCPU 0 exits: ") != std::string::npos);
    CHECK(text.find("vCPU 1 exits: ") != std::string::npos);
    CHECK(text.find("rip ffffffff81001234") != std::string::npos);
    CHECK(text.find("no answer") == std::string::npos);
    CHECK(text.ends_with("ok\n"));
    // Asked twice: each request gets fresh answers.
    CHECK(vm.control_until_ok("registers").find("vCPU 1 exits: ") != std::string::npos);
    CHECK(vm.dir.read("boxy-vm.log").find("registers requested:") != std::string::npos);
}

TEST_CASE("runtime: stop sends Ctrl-Alt-Del; the guest powers off", "[runtime]")
{
    TestVm vm;
    // The guest: routes GSI 1 (edge) to vector 0x31 on vCPU 0, sets up the
    // 8042 as Linux does, waits for the keyboard interrupt, reads the scan
    // code, then powers off as its init would.
    vm.kernel.scripts[0] = {mmio(kIoApicAddress, 4, 0x10 + 2 * kKeyboardGsi),
                            mmio(kIoApicAddress + 0x10, 4, 0x31),
                            io_out(kKeyboardCommandPort, 1, 0x60),
                            io_out(kKeyboardDataPort, 1, 0x05),
                            wait_for_vector(0x31),
                            io_in(kKeyboardDataPort, 1),
                            io_out(kSleepControlPort, 1, kS5)};
    REQUIRE(vm.start() == "ready\n");
    std::string reply;
    for (int i = 0; i < 500; ++i) {  // until the guest has its keyboard up
        reply = vm.control("stop");
        if (reply == "ok\n") {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    CHECK(reply == "ok\n");
    CHECK(vm.join() == kExitOk);
    CHECK(vm.state()["exit_reason"] == "poweroff");
    CHECK(vm.kernel.state.answers[0] == std::vector<std::uint64_t>{0x14});  // Left Ctrl, set 2
    CHECK(vm.dir.read("boxy-vm.log").find("Ctrl-Alt-Del") != std::string::npos);
}

TEST_CASE("runtime: console clients get guest output while it runs", "[runtime]")
{
    TestVm vm;
    // The guest prints only once it gets the keyboard interrupt, which the
    // test causes with "stop" after its console client connected.
    vm.kernel.scripts[0] = {mmio(kIoApicAddress, 4, 0x10 + 2 * kKeyboardGsi),
                            mmio(kIoApicAddress + 0x10, 4, 0x31),
                            io_out(kKeyboardCommandPort, 1, 0x60),
                            io_out(kKeyboardDataPort, 1, 0x05),
                            wait_for_vector(0x31),
                            io_out(kCom1Port, 1, 'b'),
                            io_out(kCom1Port, 1, 'y'),
                            io_out(kCom1Port, 1, 'e'),
                            io_out(kSleepControlPort, 1, kS5)};
    REQUIRE(vm.start() == "ready\n");
    auto console = connect_unix(vm.dir.file("console.sock"));
    REQUIRE(console);
    for (int i = 0; i < 500 && vm.control("stop") != "ok\n"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    CHECK(read_all(console->get()) == "bye");  // then end of file: the VM is gone
    CHECK(vm.join() == kExitOk);
    CHECK(vm.dir.read("console.log") == "bye");
}
