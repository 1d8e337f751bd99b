// SPDX-License-Identifier: MIT
//
// boxy-vm's command line (CLI11) and its validation, all of it before any
// VM exists:
//   boxy-vm --name NAME --kernel PATH [--initrd PATH] [--cmdline STR]
//           --memory MIB --vcpus N --state-dir DIR [--ready-fd FD]
//           [--device PATH]
// Bad input is one line "boxy-vm: error: <what is wrong and what to do>"
// and exit code 2; nothing is created.
#pragma once

#include "bzimage.hpp"
#include "guest_setup.hpp"

#include <boxy/result.hpp>

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>

namespace boxy::vm {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

inline constexpr std::string_view kDefaultDevice = "/dev/boxy";
inline constexpr std::uint32_t kMaxVmVcpus = 8;  // BOXY_MAX_VCPUS
inline constexpr std::size_t kMaxNameLength = 64;
// A bzImage is a few MiB; anything this large is a wrong file.
inline constexpr std::uint64_t kMaxKernelSize = 256ULL * 1024 * 1024;

struct Options {
    std::string name;
    std::string kernel;
    std::optional<std::string> initrd;
    std::string cmdline{kDefaultCmdline};
    std::uint64_t memory_mib{0};
    std::uint32_t vcpus{0};
    std::string state_dir;
    int ready_fd{-1};  // -1: none
    std::string device{kDefaultDevice};
};

// Options to run with, or (none) the exit code after --help, --version or a
// usage error, already printed to out or err.
struct ParsedCommandLine {
    std::optional<Options> options;
    int exit_code{kExitOk};
};

// args as main() gets them: args[0] is the program name.
[[nodiscard]] ParsedCommandLine parse_command_line(std::span<const char* const> args,
                                                   std::ostream& out, std::ostream& err);

// A read-only mapping of a whole file (none for an empty one).
class MappedFile {
public:
    [[nodiscard]] static Result<MappedFile, std::string> open(const std::string& path,
                                                              std::uint64_t max_size);
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&&) = delete;
    ~MappedFile();

    [[nodiscard]] ByteView bytes() const { return {data_, size_}; }

private:
    MappedFile(std::uint8_t* data, std::size_t size) : data_{data}, size_{size} {}

    std::uint8_t* data_;  // read-only pages (PROT_READ)
    std::size_t size_;
};

// The files a valid configuration boots, mapped; `image` points into
// `kernel`.
struct BootFiles {
    MappedFile kernel;
    std::optional<MappedFile> initrd;
    BzImage image;

    [[nodiscard]] ByteView initrd_bytes() const { return initrd ? initrd->bytes() : ByteView{}; }
};

// Checks every option (name, state directory, ready fd, vCPUs, memory,
// kernel, initrd, command line, and that the guest's layout fits) and maps
// the files. The error is the message after "boxy-vm: error: ".
[[nodiscard]] Result<BootFiles, std::string> validate(const Options& options);

// Why `name` is not a VM name, or nothing: 1 to 64 of [A-Za-z0-9._-], not
// starting with '.' or '-' (a superset of boxyctl's names).
[[nodiscard]] std::optional<std::string> check_name(std::string_view name);

}  // namespace boxy::vm
