// SPDX-License-Identifier: MIT
#include "device.hpp"

#include <boxy/boxy_ioctl.h>

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace boxy::boxyctl {

namespace {

std::string errno_text(int error)
{
    return std::generic_category().message(error);
}

class DeviceHypervisor final : public Hypervisor {
public:
    DeviceHypervisor(int fd, std::string path) : fd_{fd}, path_{std::move(path)} {}
    DeviceHypervisor(const DeviceHypervisor&) = delete;
    DeviceHypervisor(DeviceHypervisor&&) = delete;
    DeviceHypervisor& operator=(const DeviceHypervisor&) = delete;
    DeviceHypervisor& operator=(DeviceHypervisor&&) = delete;
    ~DeviceHypervisor() override { ::close(fd_); }

    Result<VersionInfo, Error> version() override
    {
        boxy_ioctl_version answer{};
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        if (::ioctl(fd_, BOXY_IOCTL_VERSION, &answer) != 0) {
            return make_error(Error{describe_ioctl_error(path_, "BOXY_IOCTL_VERSION", errno)});
        }
        return VersionInfo{
            .abi_version = answer.abi_version,
            .cpu_count = answer.cpu_count,
            .features = answer.features,
            .driver_abi_version = answer.driver_abi_version,
        };
    }

    Result<boxy_cpu_stats, Error> cpu_stats(std::uint32_t cpu) override
    {
        boxy_ioctl_stats request{};
        request.cpu_index = cpu;
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): ioctl(2) is variadic
        if (::ioctl(fd_, BOXY_IOCTL_GET_STATS, &request) != 0) {
            return make_error(Error{describe_ioctl_error(path_, "BOXY_IOCTL_GET_STATS", errno)});
        }
        return request.stats;
    }

private:
    int fd_;
    std::string path_;
};

}  // namespace

Result<std::unique_ptr<Hypervisor>, Error> open_device(const std::string& path)
{
    // Read-only: every ioctl so far only queries. O_CLOEXEC: nothing
    // boxyctl starts inherits the device.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return make_error(Error{describe_open_error(path, errno)});
    }
    return std::unique_ptr<Hypervisor>{std::make_unique<DeviceHypervisor>(fd, path)};
}

std::string describe_open_error(std::string_view path, int error)
{
    std::string text = fmt::format("cannot open {}: {}", path, errno_text(error));
    switch (error) {
        case ENOENT:
        case ENODEV:
        case ENXIO: text += " — is boxy.ko loaded? (modprobe boxy)"; break;
        case EACCES:
        case EPERM: text += " — run boxyctl as root, or as a member of the boxy group"; break;
        default: break;
    }
    return text;
}

std::string describe_ioctl_error(std::string_view path, std::string_view request, int error)
{
    std::string text = fmt::format("{}: {} failed: {}", path, request, errno_text(error));
    switch (error) {
        case ENOTTY:
            text +=
                fmt::format(" — {} is not Boxy's device, or boxy.ko is older than boxyctl", path);
            break;
        case EINVAL:
            text += " — boxyctl and boxy.ko disagree on the request; install both from one build";
            break;
        case EOPNOTSUPP: text += " — this Boxy does not offer it"; break;
        case EIO: text += " — Boxy refused the call; the kernel log (dmesg) says why"; break;
        default: break;
    }
    return text;
}

}  // namespace boxy::boxyctl
