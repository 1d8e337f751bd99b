// SPDX-License-Identifier: MIT
//
// kernel.hpp over /dev/boxy: the thin ioctl layer, the only part of
// boxy-vm that needs boxy.ko and is not unit-tested.
#pragma once

#include "kernel.hpp"

#include <csignal>
#include <memory>
#include <string>

namespace boxy::vm {

// The signal that kicks a vCPU thread out of BOXY_IOCTL_RUN (-EINTR).
// open_boxy_device installs a handler for it that does nothing (without
// SA_RESTART); vCPU threads must not block it.
inline constexpr int kKickSignal = SIGUSR1;

// Opens `path` (normally /dev/boxy) read-write.
[[nodiscard]] Result<std::unique_ptr<Kernel>, KernelError> open_boxy_device(
    const std::string& path);

}  // namespace boxy::vm
