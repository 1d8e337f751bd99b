// SPDX-License-Identifier: MIT
//
// boxyctl's output, as pure functions of what Boxy answered: no I/O, so
// the unit tests check every byte a user or a script sees.
#pragma once

#include "hypervisor.hpp"

#include <boxy/abi.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace boxy::boxyctl {

// "0.1" for a packed major << 16 | minor.
[[nodiscard]] std::string format_abi_version(std::uint32_t version);

// Whether boxyctl, built against abi.h, understands a VMM of this version:
// same major (docs/abi.md "Versioning"; a newer minor only adds).
[[nodiscard]] bool abi_compatible(std::uint32_t vmm_version);

// The name of exit reason `index`, as the VMM's to_string(ExitReason)
// spells it ("cpuid", "nested_page_fault", ...); reasons newer than this
// boxyctl are "reason_<index>".
[[nodiscard]] std::string reason_name(std::size_t index);

// How many exits_by_reason entries of `stats` are meaningful: reason_count,
// bounded by the array.
[[nodiscard]] std::size_t reported_reasons(const boxy_cpu_stats& stats);

// `boxyctl version`: "boxyctl <tool_version>, Boxy ABI x.y, N CPUs\n".
[[nodiscard]] std::string format_version_text(std::string_view tool_version,
                                              const VersionInfo& info);
// `boxyctl version --json`, see README.md.
[[nodiscard]] std::string format_version_json(std::string_view tool_version,
                                              const VersionInfo& info);

// `boxyctl stats`: reasons down, CPUs across, a total row, and a total
// column when there is more than one CPU.
[[nodiscard]] std::string format_stats_table(std::span<const boxy_cpu_stats> cpus);
// `boxyctl stats --json`, see README.md.
[[nodiscard]] std::string format_stats_json(std::span<const boxy_cpu_stats> cpus);

}  // namespace boxy::boxyctl
