// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include <boxy/version.hpp>

#include <CLI/CLI.hpp>
#include <charconv>
#include <system_error>

namespace boxy::boxyctl {

std::optional<std::uint32_t> parse_cpu_index(std::string_view text)
{
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    std::uint32_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

ParsedCommandLine parse_command_line(std::span<const char* const> args, std::ostream& out,
                                     std::ostream& err)
{
    CLI::App app{"Manage Boxy, the x86-64 microhypervisor, from its host.", "boxyctl"};
    app.set_version_flag("--version", "boxyctl " + std::string{kVersion});
    // At most one command; "none" is reported after parsing, so that an
    // unknown word is named as such rather than as a missing command.
    app.require_subcommand(0, 1);

    std::string device{kDefaultDevice};
    app.add_option("--device", device, "Boxy's device node (boxy.ko)")
        ->envname("BOXY_DEVICE")
        ->capture_default_str();

    VersionCommand version;
    CLI::App* version_app =
        app.add_subcommand("version", "Show boxyctl's version, Boxy's ABI version and CPU count");
    version_app->add_flag("--json", version.json, "Print JSON");

    StatsCommand stats;
    std::string cpu_text;
    CLI::App* stats_app = app.add_subcommand("stats", "Show VM exits by reason, per CPU");
    stats_app->add_flag("--json", stats.json, "Print JSON");
    const CLI::Validator cpu_index{[](const std::string& text) {
                                       return parse_cpu_index(text)
                                                  ? std::string{}
                                                  : "not a CPU index (decimal, 0 or more): " + text;
                                   },
                                   ""};
    CLI::Option* cpu_option =
        stats_app->add_option("--cpu", cpu_text, "Only this CPU (0 to the CPU count - 1)")
            ->type_name("INDEX")
            ->check(cpu_index);

    try {
        app.parse(static_cast<int>(args.size()), args.data());
        if (app.get_subcommands().empty()) {
            throw CLI::RequiredError{"A command (version or stats)"};
        }
    } catch (const CLI::ParseError& error) {
        // Help and --version exit 0; every parse error is a usage error.
        const int code = app.exit(error, out, err);
        return ParsedCommandLine{.options = std::nullopt,
                                 .exit_code = code == 0 ? kExitOk : kExitUsage};
    }

    Options options;
    options.device = device;
    if (*stats_app) {
        if (cpu_option->count() > 0) {
            stats.cpu = parse_cpu_index(cpu_text);
        }
        options.command = stats;
    } else {
        options.command = version;
    }
    return ParsedCommandLine{.options = std::move(options), .exit_code = kExitOk};
}

}  // namespace boxy::boxyctl
