// SPDX-License-Identifier: MIT
//
// The AMD-V backend: turns a CPU's running state into a guest (the host VM)
// and runs it, translating #VMEXITs into the core's neutral ExitInfo and the
// core's ExitAction back into the VMCB. No policy lives here.
#pragma once

#include "core/per_cpu.hpp"

#include <boxy/boot_protocol.hpp>

#include <cstdint>
#include <string_view>

namespace boxy::svm {

// Enables SVM on this CPU and fills the VMCB so that the guest continues at
// ctx.guest_rip/guest_rsp with everything else as the CPU has it now.
// `rflags` is the caller's RFLAGS before it disabled interrupts.
[[nodiscard]] VmmStatus prepare_cpu(vmm::PerCpu& cpu, const LaunchContext& ctx,
                                    std::uint64_t rflags);

// Runs the guest forever, handling exits.
[[noreturn]] void run(vmm::PerCpu& cpu);

}  // namespace boxy::svm
