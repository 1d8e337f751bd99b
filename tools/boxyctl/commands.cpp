// SPDX-License-Identifier: MIT
#include "commands.hpp"

#include "report.hpp"
#include "vm_commands.hpp"

#include <boxy/abi.h>
#include <boxy/version.hpp>

#include <fmt/format.h>
#include <vector>

namespace boxy::boxyctl {

namespace {

int fail(std::ostream& err, std::string_view message)
{
    err << "boxyctl: " << message << '\n';
    return kExitFailure;
}

std::string incompatible_abi(std::uint32_t vmm_version)
{
    return fmt::format(
        "Boxy speaks ABI {}, this boxyctl understands {}.x (built for {}): use the boxyctl "
        "built with your boxy.efi",
        format_abi_version(vmm_version), BOXY_ABI_VERSION_MAJOR,
        format_abi_version(BOXY_ABI_VERSION));
}

int run_version(const VersionCommand& command, Hypervisor& hypervisor, std::ostream& out,
                std::ostream& err)
{
    const auto info = hypervisor.version();
    if (!info) {
        return fail(err, info.error().message);
    }
    out << (command.json ? format_version_json(kVersion, *info)
                         : format_version_text(kVersion, *info));
    // Reporting the version is still right; other commands refuse.
    if (!abi_compatible(info->abi_version)) {
        err << "boxyctl: warning: " << incompatible_abi(info->abi_version) << '\n';
    }
    return kExitOk;
}

int run_stats(const StatsCommand& command, Hypervisor& hypervisor, std::ostream& out,
              std::ostream& err)
{
    const auto info = hypervisor.version();
    if (!info) {
        return fail(err, info.error().message);
    }
    if (!abi_compatible(info->abi_version)) {
        return fail(err, incompatible_abi(info->abi_version));
    }
    if ((info->features & BOXY_FEATURE_GET_STATS) == 0) {
        return fail(err, "this Boxy does not count VM exits (no get_stats feature)");
    }

    std::uint32_t first = 0;
    std::uint32_t end = info->cpu_count;
    if (command.cpu) {
        if (*command.cpu >= info->cpu_count) {
            return fail(err, fmt::format("there is no CPU {}: Boxy runs on {} CPU(s), 0 to {}",
                                         *command.cpu, info->cpu_count, info->cpu_count - 1));
        }
        first = *command.cpu;
        end = first + 1;
    }

    std::vector<boxy_cpu_stats> cpus;
    for (std::uint32_t cpu = first; cpu < end; ++cpu) {
        const auto stats = hypervisor.cpu_stats(cpu);
        if (!stats) {
            return fail(err, stats.error().message);
        }
        if (stats->cpu_index != cpu) {
            return fail(err, fmt::format("asked for CPU {}'s exits, Boxy answered with CPU {}'s",
                                         cpu, stats->cpu_index));
        }
        cpus.push_back(*stats);
    }
    out << (command.json ? format_stats_json(cpus) : format_stats_table(cpus));
    return kExitOk;
}

}  // namespace

int run_command(const Options& options, Hypervisor& hypervisor, std::ostream& out,
                std::ostream& err)
{
    if (const auto* version = std::get_if<VersionCommand>(&options.command)) {
        return run_version(*version, hypervisor, out, err);
    }
    if (const auto* stats = std::get_if<StatsCommand>(&options.command)) {
        return run_stats(*stats, hypervisor, out, err);
    }
    return fail(err, "a service-VM command does not go through the Hypervisor interface");
}

int boxyctl_main(std::span<const char* const> args, const OpenHypervisor& open, std::ostream& out,
                 std::ostream& err)
{
    const ParsedCommandLine parsed = parse_command_line(args, out, err);
    if (!parsed.options) {
        return parsed.exit_code;
    }
    if (is_vm_command(parsed.options->command)) {
        const auto environment = vm_environment_from_env(parsed.options->device);
        if (!environment) {
            return fail(err, environment.error().message);
        }
        return run_vm_command(parsed.options->command, *environment, out, err);
    }
    auto hypervisor = open(parsed.options->device);
    if (!hypervisor) {
        return fail(err, hypervisor.error().message);
    }
    return run_command(*parsed.options, **hypervisor, out, err);
}

}  // namespace boxy::boxyctl
