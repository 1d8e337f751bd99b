// SPDX-License-Identifier: MIT
//
// What the VMM keeps per physical CPU, and the guest register file the
// backends switch on every VM exit.
#pragma once

#include "hypercall/exit_stats.hpp"

#include <cstdint>

namespace boxy::vmm {

// General registers in x86 encoding order (SDM Vol. 2, Table 2-2), so an
// instruction decoder's register number indexes it directly.
struct GuestGprs {
    enum : unsigned {
        rax,
        rcx,
        rdx,
        rbx,
        rsp,
        rbp,
        rsi,
        rdi,
        r8,
        r9,
        r10,
        r11,
        r12,
        r13,
        r14,
        r15
    };
    std::uint64_t r[16];
};
static_assert(sizeof(GuestGprs) == 128, "arch/x64/svm/vmrun.S indexes it by 8 * n");

inline constexpr std::uint32_t kMaxCpus = 64;
// 32 KiB: a service vCPU's run loop nests inside the host's exit handler,
// and MMIO decoding (Zydis) is deep. Below each stack lies an unmapped
// guard page (vmm.cpp), so an overflow faults instead of overwriting the
// CPU's control blocks, which the pool places just below.
inline constexpr std::uint64_t kStackPages = 8;

// INIT and SIPI for a CPU, posted by the CPU whose host wrote the ICR
// (vmm/core/xapic.cpp). Written by any CPU, consumed by the owner.
struct StartupMailbox {
    volatile std::uint32_t init_pending;
    volatile std::uint32_t sipi_pending;
    volatile std::uint32_t sipi_vector;
};

struct PerCpu {
    GuestGprs gprs;  // first: the run loop hands its address to vmrun.S
    std::uint32_t index;
    std::uint32_t apic_id;
    volatile std::uint32_t virtualized;  // set once this CPU runs in the host VM
    StartupMailbox mailbox;
    std::uint64_t vmcb_pa;       // guest control block (SVM) / VMCS (VMX)
    std::uint64_t host_save_pa;  // SVM host save area (VM_HSAVE_PA)
    std::uint64_t stack_top;
    ExitStats stats{0, 0};
};

}  // namespace boxy::vmm
