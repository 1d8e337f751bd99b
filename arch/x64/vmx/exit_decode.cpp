// SPDX-License-Identifier: MIT
#include "exit_decode.hpp"

namespace boxy::vmx {
namespace {

using vmm::ExitReason;

// VM-exit interruption information (SDM Vol. 3C, 25.9.2, "Format of the
// VM-Exit Interruption-Information Field").
constexpr std::uint32_t kVectorMask = 0xFF;
constexpr unsigned kTypeShift = 8;
constexpr std::uint32_t kTypeMask = 7;
constexpr std::uint32_t kTypeNmi = 2;
constexpr std::uint32_t kTypeSoftwareException = 6;
constexpr std::uint32_t kErrorCodeValid = 1U << 11;
constexpr std::uint32_t kInfoValid = 1U << 31;

// EPT-violation exit qualification (SDM Vol. 3C, 28.2.1, Table 28-7).
constexpr std::uint64_t kQualWrite = 1U << 1;
constexpr std::uint64_t kQualFetch = 1U << 2;
constexpr std::uint64_t kQualPermissions = 7U << 3;  // the entry was readable/writable/executable
constexpr std::uint64_t kQualLinearValid = 1U << 7;
constexpr std::uint64_t kQualLinearFinal = 1U << 8;  // defined only with bit 7

[[nodiscard]] std::uint32_t interruption_type(std::uint32_t info)
{
    return (info >> kTypeShift) & kTypeMask;
}

[[nodiscard]] ExitReason reason_of(std::uint16_t basic)
{
    namespace r = exit_reason;
    switch (basic) {
        case r::kCpuid: return ExitReason::cpuid;
        case r::kRdmsr: return ExitReason::msr_read;
        case r::kWrmsr: return ExitReason::msr_write;
        case r::kVmcall: return ExitReason::hypercall;
        case r::kEptViolation:
        case r::kEptMisconfiguration: return ExitReason::nested_page_fault;
        case r::kVmclear:
        case r::kVmlaunch:
        case r::kVmptrld:
        case r::kVmptrst:
        case r::kVmread:
        case r::kVmresume:
        case r::kVmwrite:
        case r::kVmxoff:
        case r::kVmxon:
        case r::kInvept:
        case r::kInvvpid:
        case r::kVmfunc: return ExitReason::virtualization_instruction;
        case r::kTripleFault: return ExitReason::shutdown;
        case r::kInit: return ExitReason::init;
        case r::kSipi: return ExitReason::sipi;
        case r::kHlt:
        case r::kMwait: return ExitReason::hlt;
        case r::kIoInstruction: return ExitReason::io;
        case r::kExternalInterrupt: return ExitReason::interrupt;
        case r::kExceptionOrNmi: return ExitReason::exception;  // NMI: see decode_exit()
        case r::kXsetbv: return ExitReason::xsetbv;
        case r::kCrAccess: return ExitReason::cr_access;
        case r::kInvalidGuestState:
        case r::kMsrLoading:
        case r::kMachineCheckOnEntry: return ExitReason::invalid_state;
        default: return ExitReason::other;
    }
}

}  // namespace

std::uint64_t npf_error_code(std::uint64_t qualification)
{
    std::uint64_t code = 0;
    // A violation on an entry with some permission is a permission fault
    // on a present translation; with none, the translation is absent.
    if ((qualification & kQualPermissions) != 0) {
        code |= kNpfPresent;
    }
    if ((qualification & kQualWrite) != 0) {
        code |= kNpfWrite;
    }
    if ((qualification & kQualFetch) != 0) {
        code |= kNpfFetch;
    }
    // AMD tells a fault on the final guest-physical address from one on the
    // guest's own page tables (APM Vol. 2, 15.25.6, EXITINFO1 bits 32/33);
    // VMX says the same in bit 8 when bit 7 says a linear address was used.
    if ((qualification & kQualLinearValid) != 0) {
        code |= (qualification & kQualLinearFinal) != 0 ? kNpfFinalAddress : kNpfPageTableWalk;
    }
    return code;
}

vmm::ExitInfo decode_exit(const VmxExitFields& fields)
{
    vmm::ExitInfo exit;
    exit.vendor_code = fields.reason;
    exit.cpl = cpl_of(fields.guest_ss_access_rights);
    if ((fields.reason & exit_reason::kEntryFailure) != 0) {
        exit.reason = ExitReason::invalid_state;
        return exit;
    }
    const auto basic = static_cast<std::uint16_t>(fields.reason & 0xFFFF);
    exit.reason = reason_of(basic);
    const std::uint32_t info = fields.interruption_info;
    switch (basic) {
        case exit_reason::kExceptionOrNmi:
            if (interruption_type(info) == kTypeNmi) {
                exit.reason = ExitReason::nmi;
                break;
            }
            exit.address = info & kVectorMask;
            if ((info & kErrorCodeValid) != 0) {
                exit.error_code = fields.interruption_error_code;
            }
            break;
        case exit_reason::kExternalInterrupt:
            // Valid only if the CPU acknowledged the interrupt on exit.
            if ((info & kInfoValid) != 0) {
                exit.address = info & kVectorMask;
            }
            break;
        case exit_reason::kSipi: exit.address = fields.qualification & 0xFF; break;
        case exit_reason::kMwait: exit.mwait = true; break;
        case exit_reason::kEptViolation:
            exit.address = fields.guest_physical_address;
            exit.error_code = npf_error_code(fields.qualification);
            break;
        case exit_reason::kEptMisconfiguration:
            exit.address = fields.guest_physical_address;
            exit.error_code = kNpfPresent | kNpfReserved;
            break;
        case exit_reason::kIoInstruction:
            exit.address = decode_io(fields.qualification).port;
            exit.error_code = fields.qualification;
            break;
        case exit_reason::kCrAccess:
            exit.address = decode_cr_access(fields.qualification).control_register;
            exit.error_code = fields.qualification;
            break;
        default: break;
    }
    return exit;
}

std::uint8_t exiting_instruction_length(const VmxExitFields& fields)
{
    if ((fields.reason & exit_reason::kEntryFailure) != 0) {
        return 0;
    }
    namespace r = exit_reason;
    switch (static_cast<std::uint16_t>(fields.reason & 0xFFFF)) {
        case r::kExceptionOrNmi:
            if (interruption_type(fields.interruption_info) != kTypeSoftwareException) {
                return 0;
            }
            break;
        case r::kCpuid:
        case r::kGetsec:
        case r::kHlt:
        case r::kInvd:
        case r::kVmcall:
        case r::kVmclear:
        case r::kVmlaunch:
        case r::kVmptrld:
        case r::kVmptrst:
        case r::kVmread:
        case r::kVmresume:
        case r::kVmwrite:
        case r::kVmxoff:
        case r::kVmxon:
        case r::kCrAccess:
        case r::kIoInstruction:
        case r::kRdmsr:
        case r::kWrmsr:
        case r::kMwait:
        case r::kInvept:
        case r::kInvvpid:
        case r::kXsetbv:
        case r::kVmfunc: break;
        default: return 0;
    }
    // 1 to 15 bytes; anything else would be a CPU bug, and 0 makes the
    // backend fall back to decoding the instruction itself.
    constexpr std::uint32_t kMaxLength = 15;
    if (fields.instruction_length == 0 || fields.instruction_length > kMaxLength) {
        return 0;
    }
    return static_cast<std::uint8_t>(fields.instruction_length);
}

}  // namespace boxy::vmx
