// SPDX-License-Identifier: MIT
//
// boxyctl's command line, parsed into a typed command (CLI11). Help and
// usage errors are printed here; running the command is commands.hpp's job.
#pragma once

#include "device.hpp"

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace boxy::boxyctl {

// Exit codes (README.md): usage errors are 2 whatever CLI11's own code.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct VersionCommand {
    bool json = false;
};

struct StatsCommand {
    bool json = false;
    std::optional<std::uint32_t> cpu;  // all CPUs when empty
};

// The service-VM commands (README.md "Service VMs"). Names are checked by
// the parser (check_vm_name), files and limits when the command runs.
inline constexpr std::uint32_t kDefaultMemoryMib = 128;
inline constexpr std::uint32_t kDefaultVcpus = 1;
inline constexpr std::uint32_t kDefaultStopTimeoutSeconds = 10;

struct StartCommand {
    std::string name;
    std::string kernel;
    std::optional<std::string> initrd;
    std::optional<std::string> cmdline;
    std::uint32_t memory_mib = kDefaultMemoryMib;
    std::uint32_t vcpus = kDefaultVcpus;
};

struct ListCommand {
    bool json = false;
};

struct LogsCommand {
    std::string name;
    bool follow = false;
};

struct ConsoleCommand {
    std::string name;
};

struct StopCommand {
    std::string name;
    bool force = false;
    std::uint32_t timeout_seconds = kDefaultStopTimeoutSeconds;
};

// Each vCPU's registers and exit counts, for a guest that seems stuck.
struct RegistersCommand {
    std::string name;
};

using Command = std::variant<VersionCommand, StatsCommand, StartCommand, ListCommand, LogsCommand,
                             ConsoleCommand, StopCommand, RegistersCommand>;

// Whether the command works on service VMs (no /dev/boxy ioctls).
[[nodiscard]] bool is_vm_command(const Command& command);

struct Options {
    std::string device{kDefaultDevice};
    Command command;
};

// Options to run, or (no options) the exit code after help, --version or
// a usage error, which are already printed to out or err.
struct ParsedCommandLine {
    std::optional<Options> options;
    int exit_code = kExitOk;
};

// args as main() gets them: args[0] is the program name.
[[nodiscard]] ParsedCommandLine parse_command_line(std::span<const char* const> args,
                                                   std::ostream& out, std::ostream& err);

// A CPU index: decimal digits only (no sign, no 0x, no octal), at most
// 2^32 - 1.
[[nodiscard]] std::optional<std::uint32_t> parse_cpu_index(std::string_view text);

}  // namespace boxy::boxyctl
