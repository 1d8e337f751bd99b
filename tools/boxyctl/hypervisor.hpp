// SPDX-License-Identifier: MIT
//
// What boxyctl asks of Boxy, as an interface: device.cpp implements it with
// /dev/boxy ioctls, the unit tests with canned answers. Everything above it
// (commands.cpp, report.cpp) is testable without boxy.ko.
#pragma once

#include <boxy/abi.h>
#include <boxy/result.hpp>

#include <cstdint>
#include <string>

namespace boxy::boxyctl {

// A failure, already phrased for the user: what failed and what to do.
struct Error {
    std::string message;
};

// BOXY_IOCTL_VERSION's answer (struct boxy_ioctl_version).
struct VersionInfo {
    std::uint32_t abi_version = 0;         // the VMM's, major << 16 | minor
    std::uint32_t cpu_count = 0;           // CPU indices are 0..cpu_count-1
    std::uint64_t features = 0;            // BOXY_FEATURE_* bits
    std::uint32_t driver_abi_version = 0;  // what boxy.ko was built against
};

class Hypervisor {
public:
    Hypervisor() = default;
    Hypervisor(const Hypervisor&) = delete;
    Hypervisor(Hypervisor&&) = delete;
    Hypervisor& operator=(const Hypervisor&) = delete;
    Hypervisor& operator=(Hypervisor&&) = delete;
    virtual ~Hypervisor() = default;

    [[nodiscard]] virtual Result<VersionInfo, Error> version() = 0;
    // One CPU's exit counters; cpu is below VersionInfo::cpu_count.
    [[nodiscard]] virtual Result<boxy_cpu_stats, Error> cpu_stats(std::uint32_t cpu) = 0;
};

}  // namespace boxy::boxyctl
