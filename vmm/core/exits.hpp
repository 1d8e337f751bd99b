// SPDX-License-Identifier: MIT
//
// Vendor-neutral VM-exit handling. A backend (arch/x64/svm, later vmx)
// decodes its exit once into ExitInfo, calls handle_exit(), and applies the
// returned ExitAction to its control structure. Handlers are small functions
// named after what they handle; statistics are recorded in one place.
#pragma once

#include "exit_reason.hpp"
#include "per_cpu.hpp"

#include <cstdint>
#include <string_view>

namespace boxy::vmm {

struct ExitInfo {
    ExitReason reason{ExitReason::other};
    std::uint64_t vendor_code{0};  // the raw exit code, for logs
    // msr_*: the MSR index (also in rcx). nested_page_fault: the
    // guest-physical address and the fault error code.
    std::uint64_t address{0};
    std::uint64_t error_code{0};
    std::uint8_t cpl{0};
    bool mwait{false};  // reason hlt: the idle instruction was MWAIT, not HLT
    // nested_page_fault: the instruction's bytes when the CPU provides them
    // (AMD decode assists, APM Vol. 2, 15.33.1); else none, and the VMM
    // fetches them through the guest's page tables.
    const std::uint8_t* instruction_bytes{nullptr};
    std::uint8_t instruction_bytes_count{0};
};

// Guest state a handler may read or change besides the GPRs.
struct GuestControl {
    std::uint64_t rip;               // in/out: instruction emulation advances it itself
    std::uint64_t efer;              // the value in the control structure (SVME set on SVM)
    std::uint64_t efer_hidden_bits;  // bits the guest must not see or set
    // Read-only, for instruction emulation.
    std::uint64_t rflags;
    std::uint64_t cr0;
    std::uint64_t cr3;
    std::uint64_t cr4;
    std::uint64_t cs_base;
    bool cs_long;       // CS.L
    bool cs_default32;  // CS.D
};

enum class ActionKind : std::uint8_t {
    advance,              // skip the exiting instruction and resume
    resume,               // resume at the same instruction
    inject_exception,     // deliver `vector` (with `error_code` if has_error)
    stop_idle_intercept,  // resume at the HLT/MWAIT, which now runs natively
    reset_machine,        // the host asked for a reset (triple fault)
    leave_vmm,            // skip the exiting instruction and run the guest natively from there
    fatal,                // a broken invariant: dump state and stop
};

struct ExitAction {
    ActionKind kind{ActionKind::advance};
    std::uint8_t vector{0};
    bool has_error{false};
    std::uint32_t error_code{0};
    std::string_view why{};
    std::uint8_t length{0};  // advance: instruction length, if the handler knows it
};

// Exception vectors (SDM Vol. 3, Table 6-1).
inline constexpr std::uint8_t kVectorUd = 6;
inline constexpr std::uint8_t kVectorGp = 13;

[[nodiscard]] ExitAction handle_exit(PerCpu& cpu, const ExitInfo& exit, GuestControl& guest);

}  // namespace boxy::vmm
