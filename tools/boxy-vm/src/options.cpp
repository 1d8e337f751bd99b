// SPDX-License-Identifier: MIT
#include "options.hpp"

#include "posix.hpp"
#include "unix_socket.hpp"

#include <boxy/version.hpp>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace boxy::vm {

ParsedCommandLine parse_command_line(std::span<const char* const> args, std::ostream& out,
                                     std::ostream& err)
{
    CLI::App app{
        "Run one Boxy service VM: its vCPU threads, devices, console and control sockets.\n"
        "Normally started by `boxyctl start`; see tools/boxy-vm/README.md.",
        "boxy-vm"};
    app.set_version_flag("--version", "boxy-vm " + std::string{kVersion});
    Options options;
    std::optional<std::string> initrd;
    app.add_option("--name", options.name, "The VM's name (for state.json and logs)")->required();
    app.add_option("--kernel", options.kernel, "The guest's Linux kernel (a bzImage)")
        ->required()
        ->type_name("PATH");
    app.add_option("--initrd", initrd, "The guest's initramfs")->type_name("PATH");
    app.add_option("--cmdline", options.cmdline,
                   "The guest kernel's command line (boxy-vm appends tsc_early_khz=)")
        ->capture_default_str();
    app.add_option("--memory", options.memory_mib, "Guest memory in MiB (64 to 3072)")
        ->required()
        ->type_name("MIB");
    app.add_option("--vcpus", options.vcpus, "Virtual CPUs (1 to 8)")->required()->type_name("N");
    app.add_option("--state-dir", options.state_dir,
                   "The VM's directory (exists; boxy-vm creates its files inside)")
        ->required()
        ->type_name("DIR");
    app.add_option("--ready-fd", options.ready_fd,
                   "Write \"ready\" (or \"error: ...\") to this descriptor, then close it")
        ->type_name("FD");
    app.add_option("--device", options.device, "Boxy's device node (boxy.ko)")
        ->capture_default_str()
        ->type_name("PATH");
    try {
        app.parse(static_cast<int>(args.size()), args.data());
    } catch (const CLI::CallForHelp& help) {
        return {std::nullopt, app.exit(help, out, err)};
    } catch (const CLI::CallForVersion& version) {
        return {std::nullopt, app.exit(version, out, err)};
    } catch (const CLI::ParseError& error) {
        err << "boxy-vm: error: " << error.what() << " (see boxy-vm --help)\n";
        return {std::nullopt, kExitUsage};
    }
    options.initrd = initrd;
    return {std::move(options), kExitOk};
}

Result<MappedFile, std::string> MappedFile::open(const std::string& path, std::uint64_t max_size)
{
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    const UniqueFd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (!fd) {
        return make_error(fmt::format("cannot read {}: {}", path, errno_text(errno)));
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        return make_error(fmt::format("cannot read {}: {}", path, errno_text(errno)));
    }
    if (!S_ISREG(info.st_mode)) {
        return make_error(fmt::format("{} is not a regular file", path));
    }
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (size > max_size) {
        return make_error(fmt::format("{} is {} MiB, more than the {} MiB it may be", path,
                                      size >> 20, max_size >> 20));
    }
    if (size == 0) {
        return MappedFile{nullptr, 0};
    }
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapping == MAP_FAILED) {
        return make_error(fmt::format("cannot map {}: {}", path, errno_text(errno)));
    }
    // The mapping's bytes, read-only.
    return MappedFile{static_cast<std::uint8_t*>(mapping), static_cast<std::size_t>(size)};
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_{std::exchange(other.data_, nullptr)}, size_{std::exchange(other.size_, 0)}
{
}

MappedFile::~MappedFile()
{
    if (data_ != nullptr) {
        ::munmap(data_, size_);
    }
}

std::optional<std::string> check_name(std::string_view name)
{
    if (name.empty() || name.size() > kMaxNameLength) {
        return fmt::format("--name must be 1 to {} characters", kMaxNameLength);
    }
    if (name.front() == '.' || name.front() == '-') {
        return std::string{"--name must not start with '.' or '-'"};
    }
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return std::string{"--name may hold only letters, digits, '.', '_' and '-'"};
        }
    }
    return std::nullopt;
}

namespace {

Result<void, std::string> check_environment(const Options& options)
{
    if (auto problem = check_name(options.name)) {
        return make_error(*problem);
    }
    struct stat info {};
    if (::stat(options.state_dir.c_str(), &info) != 0) {
        return make_error(fmt::format("--state-dir {}: {} (boxyctl creates it; create it first)",
                                      options.state_dir, errno_text(errno)));
    }
    if (!S_ISDIR(info.st_mode)) {
        return make_error(fmt::format("--state-dir {} is not a directory", options.state_dir));
    }
    constexpr std::string_view kLongestSocket = "/control.sock";  // as long as console.sock
    if (options.state_dir.size() + kLongestSocket.size() > max_socket_path()) {
        return make_error(
            fmt::format("--state-dir {} is too long for its sockets: at most {} bytes",
                        options.state_dir, max_socket_path() - kLongestSocket.size()));
    }
    if (::access(options.state_dir.c_str(), W_OK | X_OK) != 0) {
        return make_error(fmt::format("--state-dir {} is not writable for boxy-vm: {}",
                                      options.state_dir, errno_text(errno)));
    }
    if (options.ready_fd != -1 && !descriptor_open(options.ready_fd)) {
        return make_error(
            fmt::format("--ready-fd {} is not an open file descriptor", options.ready_fd));
    }
    if (options.vcpus < 1 || options.vcpus > kMaxVmVcpus) {
        return make_error(
            fmt::format("--vcpus {}: a service VM has 1 to {} vCPUs", options.vcpus, kMaxVmVcpus));
    }
    const std::uint64_t min_mib = kMinMemory / kMiB;
    const std::uint64_t max_mib = kMaxMemory / kMiB;
    if (options.memory_mib < min_mib || options.memory_mib > max_mib) {
        return make_error(fmt::format("--memory {}: a service VM has {} to {} MiB",
                                      options.memory_mib, min_mib, max_mib));
    }
    if (options.cmdline.find('\0') != std::string::npos) {
        return make_error(std::string{"--cmdline contains a NUL character"});
    }
    return {};
}

}  // namespace

Result<BootFiles, std::string> validate(const Options& options)
{
    BOXY_TRY(check_environment(options));
    auto kernel = MappedFile::open(options.kernel, kMaxKernelSize);
    if (!kernel) {
        return make_error(fmt::format("--kernel: {}", kernel.error()));
    }
    auto image = parse_bzimage(kernel->bytes());
    if (!image) {
        return make_error(fmt::format("--kernel {} is not a usable bzImage: {}", options.kernel,
                                      to_string(image.error())));
    }
    const std::uint64_t memory = options.memory_mib * kMiB;
    std::optional<MappedFile> initrd;
    if (options.initrd) {
        auto file = MappedFile::open(*options.initrd, memory);
        if (!file) {
            return make_error(fmt::format("--initrd: {} (it must fit in --memory)", file.error()));
        }
        if (file->bytes().empty()) {
            return make_error(fmt::format("--initrd {} is empty", *options.initrd));
        }
        initrd.emplace(std::move(file).value());
    }
    const std::uint64_t initrd_size = initrd ? initrd->bytes().size() : 0;
    auto layout = plan_guest(*image, memory, initrd_size, options.cmdline.size());
    if (!layout) {
        return make_error(layout.error());
    }
    BzImage parsed = *image;
    return BootFiles{std::move(kernel).value(), std::move(initrd), parsed};
}

}  // namespace boxy::vm
