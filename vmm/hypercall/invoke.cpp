// SPDX-License-Identifier: MIT
//
// Carrying out decoded hypercalls. Arguments were validated by decode();
// nothing here can fail.
#include "hypercall.hpp"

namespace boxy::vmm::hypercall {

void complete_with_error(Status status, HypercallRegisters& regs)
{
    regs.rax = static_cast<std::uint64_t>(status);
}

void invoke_version(std::uint32_t cpu_count, HypercallRegisters& regs, bool service_vms)
{
    regs.rax = BOXY_STATUS_OK;
    regs.rdi = BOXY_ABI_VERSION;
    regs.rsi = kFeatures | (service_vms ? BOXY_FEATURE_SERVICE_VMS : 0);
    regs.rdx = cpu_count;
}

void invoke_get_stats(const GetStatsArgs& args, const ExitStats& stats,
                      const GuestMemoryWriter& writer, HypercallRegisters& regs)
{
    const boxy_cpu_stats snapshot = stats.snapshot();
    // decode() required buffer_length >= sizeof snapshot; a longer buffer
    // (a newer caller's) gets this version's struct, and `size` says so.
    writer.write(writer.context, args.buffer_gpa, &snapshot, sizeof snapshot);
    regs.rax = BOXY_STATUS_OK;
    regs.rdi = sizeof snapshot;
}

}  // namespace boxy::vmm::hypercall
