// SPDX-License-Identifier: MIT
//
// Running boxyctl's commands against a Hypervisor: the whole program but
// for main(), so that tests drive it with a fake Boxy and no /dev/boxy.
#pragma once

#include "cli.hpp"
#include "hypervisor.hpp"

#include <boxy/result.hpp>

#include <functional>
#include <memory>
#include <ostream>
#include <span>
#include <string>

namespace boxy::boxyctl {

// How to reach Boxy at a device path: open_device, or a test's fake.
using OpenHypervisor =
    std::function<Result<std::unique_ptr<Hypervisor>, Error>(const std::string& device)>;

// Runs one parsed command; returns the exit code.
[[nodiscard]] int run_command(const Options& options, Hypervisor& hypervisor, std::ostream& out,
                              std::ostream& err);

// boxyctl from argv to exit code. Errors go to err, prefixed "boxyctl: ".
// version and stats reach Boxy through `open`; the service-VM commands
// (vm_commands.hpp) take their places from the environment
// (vm_environment_from_env) and never call `open`.
[[nodiscard]] int boxyctl_main(std::span<const char* const> args, const OpenHypervisor& open,
                               std::ostream& out, std::ostream& err);

}  // namespace boxy::boxyctl
