// SPDX-License-Identifier: MIT
//
// Boxy through /dev/boxy (boxy.ko's ioctls, include/boxy/boxy_ioctl.h), and
// the words boxyctl uses when that fails.
#pragma once

#include "hypervisor.hpp"

#include <boxy/result.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace boxy::boxyctl {

inline constexpr std::string_view kDefaultDevice = "/dev/boxy";

// Opens `path` (normally /dev/boxy). Nothing is asked of Boxy yet, so a
// wrong file is noticed only at the first call.
[[nodiscard]] Result<std::unique_ptr<Hypervisor>, Error> open_device(const std::string& path);

// "cannot open <path>: <strerror> — <what to do>" for open(2)'s errno.
[[nodiscard]] std::string describe_open_error(std::string_view path, int error);
// "<path>: <request> failed: <strerror> — <what to do>" for ioctl(2)'s errno.
[[nodiscard]] std::string describe_ioctl_error(std::string_view path, std::string_view request,
                                               int error);

}  // namespace boxy::boxyctl
