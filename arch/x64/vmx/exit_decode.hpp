// SPDX-License-Identifier: MIT
//
// VM exits from the VMCS into the neutral ExitInfo (vmm/core/exits.hpp):
// the backend reads the raw fields with VMREAD, decode_exit() translates
// them, and the core handles them like any SVM exit. Exit reasons are those
// of SDM Vol. 3D, Appendix C "VMX Basic Exit Reasons"; exit qualifications
// those of SDM Vol. 3C, 28.2.1 "Basic VM-Exit Information".
#pragma once

#include "core/exits.hpp"

#include <cstdint>

namespace boxy::vmx {

// Basic exit reasons (bits 15:0 of the exit-reason field; Appendix C).
namespace exit_reason {
inline constexpr std::uint16_t kExceptionOrNmi = 0;
inline constexpr std::uint16_t kExternalInterrupt = 1;
inline constexpr std::uint16_t kTripleFault = 2;
inline constexpr std::uint16_t kInit = 3;
inline constexpr std::uint16_t kSipi = 4;
inline constexpr std::uint16_t kTaskSwitch = 9;
inline constexpr std::uint16_t kCpuid = 10;
inline constexpr std::uint16_t kGetsec = 11;
inline constexpr std::uint16_t kHlt = 12;
inline constexpr std::uint16_t kInvd = 13;
inline constexpr std::uint16_t kVmcall = 18;
inline constexpr std::uint16_t kVmclear = 19;
inline constexpr std::uint16_t kVmlaunch = 20;
inline constexpr std::uint16_t kVmptrld = 21;
inline constexpr std::uint16_t kVmptrst = 22;
inline constexpr std::uint16_t kVmread = 23;
inline constexpr std::uint16_t kVmresume = 24;
inline constexpr std::uint16_t kVmwrite = 25;
inline constexpr std::uint16_t kVmxoff = 26;
inline constexpr std::uint16_t kVmxon = 27;
inline constexpr std::uint16_t kCrAccess = 28;
inline constexpr std::uint16_t kIoInstruction = 30;
inline constexpr std::uint16_t kRdmsr = 31;
inline constexpr std::uint16_t kWrmsr = 32;
inline constexpr std::uint16_t kInvalidGuestState = 33;  // VM-entry failure
inline constexpr std::uint16_t kMsrLoading = 34;         // VM-entry failure
inline constexpr std::uint16_t kMwait = 36;
inline constexpr std::uint16_t kMachineCheckOnEntry = 41;  // VM-entry failure
inline constexpr std::uint16_t kEptViolation = 48;
inline constexpr std::uint16_t kEptMisconfiguration = 49;
inline constexpr std::uint16_t kInvept = 50;
inline constexpr std::uint16_t kInvvpid = 53;
inline constexpr std::uint16_t kXsetbv = 55;
inline constexpr std::uint16_t kVmfunc = 59;

// Bit 31 of the exit-reason field: VM entry failed (SDM Vol. 3C, 27.8
// "VM-Entry Failures During or After Loading Guest State").
inline constexpr std::uint32_t kEntryFailure = 1U << 31;
}  // namespace exit_reason

// The VMCS fields an exit is decoded from.
struct VmxExitFields {
    std::uint32_t reason{0};  // kExitReason, all 32 bits
    std::uint64_t qualification{0};
    std::uint64_t guest_physical_address{0};  // meaningful for EPT exits only
    std::uint32_t instruction_length{0};      // see exiting_instruction_length()
    std::uint32_t interruption_info{0};       // kExitInterruptionInfo
    std::uint32_t interruption_error_code{0};
    std::uint32_t guest_ss_access_rights{0};  // its DPL is the CPL
};

// ExitInfo from the raw fields. vendor_code is the full exit reason; cpl
// is SS.DPL, which VM exits always save (SDM Vol. 3C, 28.3.2) and which is
// the CPL (27.3.2.2). Beyond exits.hpp's contract:
//   exception      address = vector, error_code = the exception's error
//                  code if it has one
//   interrupt      address = vector if the CPU acknowledged it, else 0
//   sipi           address = start-up vector (qualification bits 7:0)
//   io, cr_access  address = port / CR number, error_code = the raw
//                  qualification (decode_io(), decode_cr_access())
//   nested_page_fault  EPT violation: error_code in the AMD #NPF layout
//                  (npf_error_code()); EPT misconfiguration: error_code =
//                  kNpfPresent | kNpfReserved, AMD's report of reserved
//                  bits in a nested page-table entry, which is what a
//                  misconfiguration is (SDM Vol. 3C, 29.3.3.1)
//   msr_read, msr_write  address stays 0: the backend fills in RCX
//   other          task switch, INVD, GETSEC and anything not listed in
//                  the mapping: the first two always exit (26.1.2) and
//                  have no neutral reason yet; Boxy never enables the rest
[[nodiscard]] vmm::ExitInfo decode_exit(const VmxExitFields& fields);

// The AMD nested-page-fault error code (APM Vol. 2, 15.25.6 "Nested versus
// Guest Page Faults, Fault Ordering") the core expects, from an EPT
// violation's exit qualification (SDM Vol. 3C, 28.2.1, Table 28-7).
inline constexpr std::uint64_t kNpfPresent = 1U << 0;
inline constexpr std::uint64_t kNpfWrite = 1U << 1;
inline constexpr std::uint64_t kNpfReserved = 1U << 3;
inline constexpr std::uint64_t kNpfFetch = 1U << 4;
inline constexpr std::uint64_t kNpfFinalAddress = std::uint64_t{1} << 32;
inline constexpr std::uint64_t kNpfPageTableWalk = std::uint64_t{1} << 33;

[[nodiscard]] std::uint64_t npf_error_code(std::uint64_t ept_violation_qualification);

// CPL from the guest SS access rights (DPL, bits 6:5).
[[nodiscard]] constexpr std::uint8_t cpl_of(std::uint32_t ss_access_rights)
{
    return static_cast<std::uint8_t>((ss_access_rights >> 5) & 3);
}

// Control-register access (Table 28-3).
enum class CrAccessType : std::uint8_t { mov_to_cr = 0, mov_from_cr = 1, clts = 2, lmsw = 3 };

struct CrAccess {
    std::uint8_t control_register;  // 0, 3, 4 or 8; 0 for CLTS and LMSW
    CrAccessType type;
    std::uint8_t gpr;           // MOV CR: source/destination, x86 register number
    bool lmsw_from_memory;      // LMSW: operand was in memory
    std::uint16_t lmsw_source;  // LMSW: the 16-bit source operand
};

[[nodiscard]] constexpr CrAccess decode_cr_access(std::uint64_t qualification)
{
    return CrAccess{static_cast<std::uint8_t>(qualification & 0xF),
                    static_cast<CrAccessType>((qualification >> 4) & 3),
                    static_cast<std::uint8_t>((qualification >> 8) & 0xF),
                    ((qualification >> 6) & 1) != 0,
                    static_cast<std::uint16_t>((qualification >> 16) & 0xFFFF)};
}

// I/O instruction (Table 28-5).
struct IoAccess {
    std::uint16_t port;
    std::uint8_t size;  // 1, 2 or 4 bytes
    bool in;
    bool string;
    bool rep;
    bool immediate;  // port from an immediate operand, not DX
};

[[nodiscard]] constexpr IoAccess decode_io(std::uint64_t qualification)
{
    return IoAccess{static_cast<std::uint16_t>((qualification >> 16) & 0xFFFF),
                    static_cast<std::uint8_t>((qualification & 7) + 1),
                    ((qualification >> 3) & 1) != 0,
                    ((qualification >> 4) & 1) != 0,
                    ((qualification >> 5) & 1) != 0,
                    ((qualification >> 6) & 1) != 0};
}

// The length of the instruction that caused the exit, for skipping it, or
// 0 where the VM-exit instruction-length field is undefined (SDM Vol. 3C,
// 28.2.5 "Information for VM Exits Due to Instruction Execution": exits
// caused by executing an instruction, and software exceptions, define it;
// EPT violations and misconfigurations do not).
[[nodiscard]] std::uint8_t exiting_instruction_length(const VmxExitFields& fields);

}  // namespace boxy::vmx
