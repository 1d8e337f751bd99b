// SPDX-License-Identifier: MIT
//
// The VM exits of a whole VM, summed over its vCPUs' run pages (abi.h,
// struct boxy_vcpu_run: the VMM's per-vCPU counters), as boxy-vm logs them
// when the VM stops: "exits: 812 (to the host 640): io 512, hlt 98, ...".
#pragma once

#include <boxy/abi.h>

#include <span>
#include <string>

namespace boxy::vm {

// One line; reasons with no exits are left out, the rest in ABI order.
[[nodiscard]] std::string format_exit_summary(std::span<const boxy_vcpu_run* const> runs);

}  // namespace boxy::vm
