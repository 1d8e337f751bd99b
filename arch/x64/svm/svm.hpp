// SPDX-License-Identifier: MIT
//
// The AMD-V backend (vmm/core/backend.hpp): turns a CPU's running state into
// a guest (the host VM) and runs it, translating #VMEXITs into the core's
// neutral ExitInfo and the core's ExitAction back into the VMCB. No policy
// lives here. svm_setup.cpp enables SVM and fills the VMCB; svm.cpp runs it
// and leaves it.
#pragma once

#include "core/exits.hpp"
#include "core/per_cpu.hpp"
#include "exit_reason.hpp"
#include "memory/nested_paging.hpp"
#include "memory/npt_entry.hpp"
#include "vm/service_vm.hpp"
#include "vmcb.hpp"

#include <arch/x64/msr.hpp>
#include <boxy/boot_protocol.hpp>

#include <cstdint>

namespace boxy::svm {

// Shared by every CPU; written once by init().
struct SvmState {
    vmm::NestedPageTable<vmm::NptEntry> host_npt;  // the host VM's nested page tables
    std::uint64_t msr_permission_map_pa{0};
    std::uint64_t io_permission_map_pa{0};
    bool nrip_save{false};        // CPUID Fn8000_000A EDX[3]
    bool vmcb_clean_bits{false};  // CPUID Fn8000_000A EDX[5]
    bool decode_assists{false};   // CPUID Fn8000_000A EDX[7]
};

[[nodiscard]] SvmState& svm_state();

// The VMM runs identity-mapped: a physical address is its own pointer.
[[nodiscard]] inline Vmcb& vmcb_of(const vmm::PerCpu& cpu)
{
    return *reinterpret_cast<Vmcb*>(cpu.vmcb_pa);
}

// The idle instructions intercepted while a CPU may wait to be started.
inline constexpr std::uint32_t kIdleMisc2 = misc2::kMwait | misc2::kMwaitConditional;

[[nodiscard]] VmmStatus prepare_cpu(vmm::PerCpu& cpu, const LaunchContext& ctx,
                                    std::uint64_t rflags);
[[noreturn]] void run(vmm::PerCpu& cpu);

// A guest's sixteen GPRs in x86 order: RAX and RSP live in the VMCB, the
// rest in the GuestGprs that vmrun.S loads and stores.
inline void read_gprs(const vmm::GuestGprs& g, const Vmcb& v, std::uint64_t* out)
{
    for (unsigned i = 0; i < 16; ++i) {
        out[i] = g.r[i];
    }
    out[vmm::GuestGprs::rax] = v.save.rax;
    out[vmm::GuestGprs::rsp] = v.save.rsp;
}
inline void write_gprs(vmm::GuestGprs& g, Vmcb& v, const std::uint64_t* in)
{
    for (unsigned i = 0; i < 16; ++i) {
        g.r[i] = in[i];
    }
    v.save.rax = in[vmm::GuestGprs::rax];
    v.save.rsp = in[vmm::GuestGprs::rsp];
}

// What the core's handlers and instruction emulation read of a guest.
[[nodiscard]] inline vmm::GuestControl guest_control_of(const Vmcb& v)
{
    constexpr std::uint16_t kAttribLong = 1U << 9;        // CS.L in VMCB attribute bits
    constexpr std::uint16_t kAttribDefault32 = 1U << 10;  // CS.D
    return {v.save.rip,
            v.save.efer,
            x64::msr::kEferSvme,
            v.save.rflags,
            v.save.cr0,
            v.save.cr3,
            v.save.cr4,
            v.save.cs.base,
            (v.save.cs.attrib & kAttribLong) != 0,
            (v.save.cs.attrib & kAttribDefault32) != 0};
}

// Shared with the service-VM run loop (svm_guest.cpp).
[[nodiscard]] vmm::ExitReason reason_of(std::uint64_t code, std::uint64_t info1);
// The state INIT leaves a CPU in (EFER.SVME kept, HLT and MWAIT intercepted).
void reset_to_init_state(Vmcb& v);
// Real-mode start at the SIPI vector's page; GPRs zeroed, EDX the signature.
void start_at_sipi(Vmcb& v, vmm::GuestGprs& gprs, std::uint8_t vector);
// A service vCPU's VMCB.
[[nodiscard]] inline Vmcb& vmcb_of(const vmm::Vcpu& vcpu)
{
    return *reinterpret_cast<Vmcb*>(vcpu.control_pa);
}
// ServiceVmOps::run (svm_guest_run.cpp).
[[nodiscard]] std::uint32_t run_vcpu(vmm::PerCpu& cpu, vmm::Vcpu& vcpu);
// Allocates the permission maps every service vCPU shares (svm_guest.cpp).
[[nodiscard]] bool init_service_permission_maps(vmm::PageAllocator& pool);
// The service-VM half of the backend (svm_guest.cpp).
extern const vmm::ServiceVmOps kServiceVmOps;

}  // namespace boxy::svm
