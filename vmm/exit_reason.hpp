// SPDX-License-Identifier: MIT
//
// Vendor-neutral VM-exit reasons. The SVM and VMX backends translate their
// exit codes (APM Vol. 2, Appendix C "SVM Intercept Exit Codes"; SDM Vol. 3,
// Appendix C "VMX Basic Exit Reasons") into these; the core handles,
// counts and logs only these.
#pragma once

#include <cstdint>
#include <string_view>

namespace boxy::vmm {

enum class ExitReason : std::uint16_t {
    cpuid,
    msr_read,
    msr_write,
    io,                 // port I/O (IN/OUT/INS/OUTS)
    nested_page_fault,  // NPT/EPT violation or misconfiguration
    hypercall,          // VMMCALL/VMCALL
    init,               // INIT signal
    sipi,               // startup IPI (VMX only; SVM has none)
    xsetbv,
    hlt,
    shutdown,                    // triple fault
    virtualization_instruction,  // VMRUN/VMLOAD/... or VMXON/VMLAUNCH/... from the guest
    cr_access,
    exception,
    interrupt,  // physical interrupt
    nmi,
    invalid_state,  // VMRUN/VMLAUNCH failed on the guest state
    other,
    count,  // number of reasons, not a reason
};

inline constexpr std::size_t kExitReasonCount = static_cast<std::size_t>(ExitReason::count);

[[nodiscard]] constexpr std::string_view to_string(ExitReason reason)
{
    switch (reason) {
        case ExitReason::cpuid: return "cpuid";
        case ExitReason::msr_read: return "msr_read";
        case ExitReason::msr_write: return "msr_write";
        case ExitReason::io: return "io";
        case ExitReason::nested_page_fault: return "nested_page_fault";
        case ExitReason::hypercall: return "hypercall";
        case ExitReason::init: return "init";
        case ExitReason::sipi: return "sipi";
        case ExitReason::xsetbv: return "xsetbv";
        case ExitReason::hlt: return "hlt";
        case ExitReason::shutdown: return "shutdown";
        case ExitReason::virtualization_instruction: return "virtualization_instruction";
        case ExitReason::cr_access: return "cr_access";
        case ExitReason::exception: return "exception";
        case ExitReason::interrupt: return "interrupt";
        case ExitReason::nmi: return "nmi";
        case ExitReason::invalid_state: return "invalid_state";
        case ExitReason::other: return "other";
        case ExitReason::count: break;
    }
    return "unknown";
}

}  // namespace boxy::vmm
