// SPDX-License-Identifier: MIT
//
// The seam between the vendor-neutral core and a virtualization backend
// (arch/x64/svm for AMD-V, arch/x64/vmx for Intel VT-x). vmm_init() picks
// one by CPU vendor, once; the core then calls only through this table and
// never asks which backend it runs on.
#pragma once

#include "memory/nested_paging.hpp"
#include "per_cpu.hpp"

#include <boxy/boot_protocol.hpp>

#include <cstdint>
#include <string_view>

namespace boxy::vmm {

struct VmmState;
struct ServiceVmOps;

struct Backend {
    std::string_view name;  // "AMD-V", "VT-x": for logs
    // Why this CPU cannot run the backend (the missing feature, in words a
    // user can act on), or empty if it can.
    std::string_view (*unsupported)();
    // Once, on the bootstrap processor: the host VM's nested page tables as
    // `host_map` describes them (holes included), and whatever the backend
    // shares between CPUs (permission bitmaps). Allocates from s.pool.
    VmmStatus (*init)(VmmState& s, const IdentityMapConfig& host_map);
    // Per CPU, from vmm_start_cpu() on that CPU: enables the extension and
    // captures the CPU's state as the host VM's, to continue at
    // ctx.guest_rip/guest_rsp. `rflags` is the caller's before it disabled
    // interrupts. On failure the CPU is left as it was.
    VmmStatus (*prepare_cpu)(PerCpu& cpu, const LaunchContext& ctx, std::uint64_t rflags);
    // Runs the host VM on this CPU until it stops (BOXY_CALL_STOP_CPU): then
    // the CPU continues natively where the guest was and this never returns.
    [[noreturn]] void (*run)(PerCpu& cpu);
    // Service VMs (vmm/vm/service_vm.hpp); null if the backend has none yet.
    const ServiceVmOps* service_vms;
};

[[nodiscard]] const Backend& svm_backend();
[[nodiscard]] const Backend& vmx_backend();

}  // namespace boxy::vmm
