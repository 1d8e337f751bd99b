// SPDX-License-Identifier: MIT
//
// Service VMs in the VMM (design.md, "Service VMs"; abi.h calls 0x10-0x4F):
// the VM table, each VM's nested page tables over memory the host donated,
// and its vCPUs with their emulated local APICs. The host schedules: a vCPU
// runs only inside the host's BOXY_CALL_VCPU_RUN, on the calling CPU, until
// something needs the host (vendor backends: ServiceVmOps).
//
// Locking: one lock (service_lock) guards the VM table, every VM's nested
// page tables and the page pool while service VMs change. RUN holds it only
// to claim and release a vCPU; a VM whose vCPU runs cannot lose memory or be
// destroyed (busy). Each vCPU's local APIC has its own lock, because
// INJECT_INTERRUPT and sibling IPIs reach it from other CPUs while it runs.
#pragma once
#include "core/per_cpu.hpp"
#include "emulate/mmio_decode.hpp"
#include "hypercall/hypercall.hpp"
#include "memory/nested_paging.hpp"
#include "memory/npt_entry.hpp"
#include "memory/spinlock.hpp"
#include "vm/lapic.hpp"

#include <boxy/abi.h>
#include <boxy/result.hpp>

#include <cstdint>

namespace boxy::vmm {

struct ServiceVm;

// What the next RUN must finish before entering the guest again.
enum class PendingCompletion : std::uint8_t {
    none,
    io_in,       // IN: the host's u.io.data into AL/AX/EAX, RIP = next_rip
    io_out,      // OUT: RIP = next_rip
    mmio_read,   // load: the host's u.mmio.data into the decoded register
    mmio_write,  // store: RIP = next_rip
};

struct alignas(64) Vcpu {
    GuestGprs gprs{};            // RAX and RSP live in the control block
    std::uint64_t control_pa{};  // SVM: VMCB
    ServiceVm* vm{};
    std::uint32_t index{};  // also the x2APIC ID
    std::uint64_t run_page_pa{};
    volatile std::uint32_t running{};  // claimed by a CPU inside RUN
    std::uint32_t mp_state{};          // BOXY_MP_*
    bool dead{};                       // shut down (triple fault): every RUN says so

    // Start-up IPIs from siblings, under apic_lock.
    bool init_pending{};
    bool sipi_pending{};
    std::uint8_t sipi_vector{};

    Spinlock apic_lock{};
    Lapic lapic;

    // The previous host exit's completion (never read back from the host).
    PendingCompletion pending{};
    std::uint8_t io_size{};      // io_in: 1, 2 or 4 bytes
    emulate::MmioAccess mmio{};  // mmio_read: where the value goes, and the length
    std::uint64_t next_rip{};    // io_*: the instruction after

    std::uint64_t reported_deadline{};  // timer_deadline_tsc the host last got (0: none)
    std::uint64_t exits{};
    std::uint64_t host_exits{};
    std::uint64_t exits_by_reason[BOXY_EXIT_REASON_COUNT]{};

    alignas(16) std::uint8_t fpu[512]{};  // FXSAVE image of the guest's x87/SSE state
};

struct ServiceVm {
    std::uint32_t handle{};
    std::uint32_t vcpu_count{};
    std::uint64_t memory_size{};
    std::uint64_t mapped_pages{};
    std::uint32_t running{};  // vCPUs inside RUN
    std::uint32_t asid{};
    NestedPageTable<NptEntry> npt{};
    Vcpu* vcpus[BOXY_MAX_VCPUS]{};
};

// The vendor part. A backend without service VMs leaves Backend::service_vms null.
struct ServiceVmOps {
    // Fills a new vCPU's control block (its page is zeroed): INIT state,
    // intercepts, nested paging with the VM's tables.
    void (*vcpu_init)(Vcpu& vcpu);
    // BOXY_CALL_VCPU_SET_REGS after the core's checks; the backend checks
    // what VM entry would refuse. GET_REGS cannot fail.
    hypercall::Status (*set_regs)(Vcpu& vcpu, const boxy_vcpu_regs& regs);
    void (*get_regs)(const Vcpu& vcpu, boxy_vcpu_regs& regs);
    // Runs the claimed vCPU on this CPU; fills its run page; returns the
    // BOXY_VM_EXIT_* reason.
    std::uint32_t (*run)(PerCpu& cpu, Vcpu& vcpu);
};

namespace service {

// The hypercall entry: performs a decoded service-VM call for the host on
// `cpu`, writing outputs into `regs` (status in rax).
void invoke(PerCpu& cpu, const hypercall::DecodedCall& call, hypercall::HypercallRegisters& regs);

// For the backends' run loops: deliver an IPI a vCPU's ICR write asked for
// to the VM's vCPUs. Returns the siblings (bit per index) that must be
// kicked; the sender itself is never in it.
[[nodiscard]] std::uint64_t route_ipi(Vcpu& sender, const IpiRequest& ipi);

// The host-physical address backing guest-physical `gpa` of `vm`, if RAM.
[[nodiscard]] Result<std::uint64_t, MemoryError> translate(const ServiceVm& vm, std::uint64_t gpa);

}  // namespace service
}  // namespace boxy::vmm
