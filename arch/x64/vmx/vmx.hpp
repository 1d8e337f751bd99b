// SPDX-License-Identifier: MIT
//
// The Intel VT-x backend (vmm/core/backend.hpp), the counterpart of
// arch/x64/svm: vmx_setup.cpp checks the CPU, builds the EPT and fills each
// CPU's VMCS; vmx.cpp runs the host VM, translates VM exits into the core's
// neutral ExitInfo (exit_decode.cpp) and applies the core's ExitAction back;
// vmx_entry.S is the VM entry and exit. Pure logic (capabilities, control
// adjustment, exit decoding) lives in vmx_capabilities.cpp and
// exit_decode.cpp and is unit-tested on the host.
#pragma once

#include "core/per_cpu.hpp"
#include "memory/ept_entry.hpp"
#include "memory/nested_paging.hpp"
#include "vmx_capabilities.hpp"

#include <boxy/boot_protocol.hpp>

#include <cstdint>

namespace boxy::vmx {

// Shared by every CPU; written once by init().
struct VmxState {
    VmxCapabilities caps;
    VmxSetup setup{};
    vmm::NestedPageTable<vmm::EptEntry> host_ept;  // the host VM's EPT
    std::uint64_t ept_pointer{0};
    std::uint64_t msr_bitmap_pa{0};
    std::uint64_t io_bitmap_a_pa{0};  // ports 0-7FFF, all zero: none intercepted
    std::uint64_t io_bitmap_b_pa{0};  // ports 8000-FFFF
};

[[nodiscard]] VmxState& vmx_state();

// The VPID of the host VM when the CPU has VPIDs (0 is VMX root's own).
inline constexpr std::uint16_t kHostVpid = 1;

// Host (VMM) selectors: the VMM's GDT (vmm/core/vmm.cpp) and a TSS selector
// that only has to be non-zero (SDM Vol. 3C, 27.2.3: host TR must not be
// null); VM exits load TR's base from the VMCS, never from the GDT.
inline constexpr std::uint16_t kHostCodeSelector = 0x08;
inline constexpr std::uint16_t kHostDataSelector = 0x10;
inline constexpr std::uint16_t kHostTssSelector = 0x18;

[[nodiscard]] VmmStatus prepare_cpu(vmm::PerCpu& cpu, const LaunchContext& ctx,
                                    std::uint64_t rflags);
[[noreturn]] void run(vmm::PerCpu& cpu);

// The guest state INIT leaves a CPU in (SDM Vol. 3A, Table 10-1), with the
// VMX fixed bits applied to CR0/CR4. Returns false if a VMWRITE failed.
[[nodiscard]] bool reset_to_init_state();

}  // namespace boxy::vmx

extern "C" {
// VM entry: loads the guest GPRs from `gprs` and VMLAUNCHes (launched == 0)
// or VMRESUMEs. Returns 0 after a VM exit, with the guest GPRs saved back
// to `gprs`; 1 if the entry failed (VMfail), with the VMCS's
// VM-instruction error saying why.
int boxy_vmx_enter(boxy::vmm::GuestGprs* gprs, int launched);
// Where VM exits land (the VMCS host RIP).
void boxy_vmx_exit();
}
