// SPDX-License-Identifier: MIT
//
// boxy-vm: one Boxy service VM in one process (README.md). Parses and
// validates the command line, opens /dev/boxy, routes SIGTERM/SIGINT to
// the event loop through a signalfd, and runs the VM (vm_runtime.hpp).
#include "boxy_device.hpp"
#include "options.hpp"
#include "posix.hpp"
#include "vm_runtime.hpp"

#include <csignal>
#include <cstddef>
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <sys/signalfd.h>
#include <unistd.h>

namespace {

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): one file's entry point

// Says what went wrong where boxyctl looks: stderr and the ready pipe.
int fail(const Options& options, const std::string& message, int code)
{
    std::cerr << "boxy-vm: error: " << message << '\n';
    if (options.ready_fd >= 0) {
        (void)write_all(options.ready_fd, "error: " + message + "\n");
        ::close(options.ready_fd);
    }
    return code;
}

int run(std::span<const char* const> args)
{
    const ParsedCommandLine parsed = parse_command_line(args, std::cout, std::cerr);
    if (!parsed.options) {
        return parsed.exit_code;
    }
    const Options& options = *parsed.options;
    auto files = validate(options);
    if (!files) {
        return fail(options, files.error(), kExitUsage);
    }

    // A vanished client or boxyctl must not kill the process: EPIPE instead.
    // Nor a terminal hanging up: the VM runs in the background.
    (void)std::signal(SIGPIPE, SIG_IGN);
    (void)std::signal(SIGHUP, SIG_IGN);
    // SIGTERM and SIGINT go to the event loop (threads inherit the mask);
    // the vCPU threads' kick signal stays deliverable.
    sigset_t stop_signals{};
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    if (::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
        return fail(options, "cannot block SIGTERM/SIGINT", kExitFailure);
    }
    const UniqueFd terminate{::signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC)};
    if (!terminate) {
        return fail(options, "signalfd: " + errno_text(errno), kExitFailure);
    }

    auto kernel = open_boxy_device(options.device);
    if (!kernel) {
        return fail(options, kernel.error().message, kExitFailure);
    }
    return run_vm(options, *files, **kernel, terminate.get());
}

}  // namespace

int main(int argc, char** argv)
{
    try {
        return run({argv, static_cast<std::size_t>(argc)});
    } catch (const std::exception& error) {
        // Out of memory and the like; every expected failure is a value.
        std::cerr << "boxy-vm: error: " << error.what() << '\n';
        return kExitFailure;
    }
}
