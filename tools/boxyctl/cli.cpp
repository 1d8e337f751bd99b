// SPDX-License-Identifier: MIT
#include "cli.hpp"

#include "vm_state.hpp"

#include <boxy/version.hpp>

#include <CLI/CLI.hpp>
#include <charconv>
#include <system_error>

namespace boxy::boxyctl {

namespace {

constexpr std::uint32_t kMaxStopTimeoutSeconds = 24 * 60 * 60;

}  // namespace

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

    // Service VMs.
    const CLI::Validator vm_name{
        [](const std::string& text) { return check_vm_name(text).value_or(std::string{}); }, ""};

    StartCommand start;
    std::string initrd;
    std::string cmdline;
    CLI::App* start_app =
        app.add_subcommand("start", "Start a service VM: boxy-vm in the background");
    start_app->add_option("name", start.name, "The VM's name: 1 to 32 of a-z, 0-9 and '-'")
        ->required()
        ->check(vm_name);
    start_app->add_option("--kernel", start.kernel, "The guest's Linux kernel (a bzImage)")
        ->required()
        ->type_name("PATH");
    CLI::Option* initrd_option =
        start_app->add_option("--initrd", initrd, "The guest's initramfs")->type_name("PATH");
    CLI::Option* cmdline_option =
        start_app->add_option("--cmdline", cmdline, "The guest kernel's command line")
            ->type_name("STR");
    start_app->add_option("--memory", start.memory_mib, "Guest memory in MiB")
        ->type_name("MIB")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    start_app->add_option("--vcpus", start.vcpus, "Virtual CPUs")
        ->type_name("N")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();

    ListCommand list;
    CLI::App* list_app = app.add_subcommand("list", "List the service VMs and their states");
    list_app->add_flag("--json", list.json, "Print JSON");

    LogsCommand logs;
    CLI::App* logs_app = app.add_subcommand("logs", "Print a service VM's console output");
    logs_app->add_option("name", logs.name, "The VM's name")->required()->check(vm_name);
    logs_app->add_flag("-f,--follow", logs.follow,
                       "Keep printing what the guest writes until the VM stops (or Ctrl-C)");

    ConsoleCommand console;
    CLI::App* console_app = app.add_subcommand(
        "console", "Attach the terminal to a service VM's console; Ctrl-] detaches");
    console_app->add_option("name", console.name, "The VM's name")->required()->check(vm_name);

    StopCommand stop;
    CLI::App* stop_app = app.add_subcommand(
        "stop", "Ask a service VM to shut down, and kill it if it does not in time");
    stop_app->add_option("name", stop.name, "The VM's name")->required()->check(vm_name);
    stop_app->add_flag("--force", stop.force, "Kill it at once (SIGKILL), no shutdown request");
    stop_app
        ->add_option("--timeout", stop.timeout_seconds,
                     "Seconds to wait for the shutdown before SIGKILL")
        ->type_name("SEC")
        ->check(CLI::Range(0U, kMaxStopTimeoutSeconds))
        ->capture_default_str();

    RegistersCommand registers;
    CLI::App* registers_app = app.add_subcommand(
        "registers", "Print each vCPU's registers and exit counts (a stuck guest: where is it?)");
    registers_app->add_option("name", registers.name, "The VM's name")->required()->check(vm_name);

    try {
        app.parse(static_cast<int>(args.size()), args.data());
        if (app.get_subcommands().empty()) {
            throw CLI::RequiredError{
                "A command (version, stats, start, list, logs, console, stop or registers)"};
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
    } else if (*start_app) {
        if (initrd_option->count() > 0) {
            start.initrd = initrd;
        }
        if (cmdline_option->count() > 0) {
            start.cmdline = cmdline;
        }
        options.command = start;
    } else if (*list_app) {
        options.command = list;
    } else if (*logs_app) {
        options.command = logs;
    } else if (*console_app) {
        options.command = console;
    } else if (*stop_app) {
        options.command = stop;
    } else if (*registers_app) {
        options.command = registers;
    } else {
        options.command = version;
    }
    return ParsedCommandLine{.options = std::move(options), .exit_code = kExitOk};
}

bool is_vm_command(const Command& command)
{
    return !std::holds_alternative<VersionCommand>(command) &&
           !std::holds_alternative<StatsCommand>(command);
}

}  // namespace boxy::boxyctl
