// SPDX-License-Identifier: MIT
//
// The service-VM commands: start (vm_start.cpp), list, logs, stop,
// registers (vm_commands.cpp) and console (console.cpp). They work on the VM
// directories under the state root and on boxy-vm's sockets and process;
// none of them talks to /dev/boxy (start only checks that it opens).
// Each returns boxyctl's exit code, with errors on err ("boxyctl: ...").
#pragma once

#include "cli.hpp"
#include "vm_host.hpp"

#include <ostream>

namespace boxy::boxyctl {

[[nodiscard]] int run_vm_command(const Command& command, const VmEnvironment& environment,
                                 std::ostream& out, std::ostream& err);

[[nodiscard]] int run_start(const StartCommand& command, const VmEnvironment& environment,
                            std::ostream& out, std::ostream& err);
[[nodiscard]] int run_list(const ListCommand& command, const VmEnvironment& environment,
                           std::ostream& out);
[[nodiscard]] int run_logs(const LogsCommand& command, const VmEnvironment& environment,
                           std::ostream& out, std::ostream& err);
[[nodiscard]] int run_stop(const StopCommand& command, const VmEnvironment& environment,
                           std::ostream& out, std::ostream& err);
[[nodiscard]] int run_registers(const RegistersCommand& command, const VmEnvironment& environment,
                                std::ostream& out, std::ostream& err);
// The terminal is stdin and stdout (file descriptors 0 and 1).
[[nodiscard]] int run_console(const ConsoleCommand& command, const VmEnvironment& environment,
                              std::ostream& err);

// "boxyctl: <message>\n" on err; kExitFailure.
int vm_fail(std::ostream& err, std::string_view message);

}  // namespace boxy::boxyctl
