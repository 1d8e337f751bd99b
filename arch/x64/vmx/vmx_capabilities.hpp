// SPDX-License-Identifier: MIT
//
// What this CPU's VMX can do, and the VMCS control values Boxy runs with:
// pure logic over the VMX capability MSRs (SDM Vol. 3D, Appendix A "VMX
// Capability Reporting Facility"), so the backend only reads MSRs and the
// decisions are unit-tested on the host.
//
// Boxy needs EPT and unrestricted guest: the host VM is the firmware's own
// context, which may run in real mode or without paging (after INIT-SIPI,
// for instance), and it must not see VMM memory. VPID, 1 GiB EPT pages and
// the instructions the guest would otherwise lose (RDTSCP, INVPCID,
// XSAVES, TPAUSE/UMWAIT) are used when present.
#pragma once

#include <boxy/result.hpp>

#include <cstdint>
#include <string_view>

namespace boxy::vmx {

// The VMX MSRs (SDM Vol. 4, Table 2-2; Vol. 3D, Appendix A).
namespace msr {
inline constexpr std::uint32_t kFeatureControl = 0x3A;  // IA32_FEATURE_CONTROL
inline constexpr std::uint32_t kBasic = 0x480;
inline constexpr std::uint32_t kPinBasedControls = 0x481;
inline constexpr std::uint32_t kProcessorControls = 0x482;
inline constexpr std::uint32_t kExitControls = 0x483;
inline constexpr std::uint32_t kEntryControls = 0x484;
inline constexpr std::uint32_t kMisc = 0x485;
inline constexpr std::uint32_t kCr0Fixed0 = 0x486;
inline constexpr std::uint32_t kCr0Fixed1 = 0x487;
inline constexpr std::uint32_t kCr4Fixed0 = 0x488;
inline constexpr std::uint32_t kCr4Fixed1 = 0x489;
inline constexpr std::uint32_t kSecondaryProcessorControls = 0x48B;
inline constexpr std::uint32_t kEptVpidCapabilities = 0x48C;
inline constexpr std::uint32_t kTruePinBasedControls = 0x48D;
inline constexpr std::uint32_t kTrueProcessorControls = 0x48E;
inline constexpr std::uint32_t kTrueExitControls = 0x48F;
inline constexpr std::uint32_t kTrueEntryControls = 0x490;
}  // namespace msr

// IA32_FEATURE_CONTROL (SDM Vol. 3C, 24.7 "Enabling and Entering VMX
// Operation"): VMXON raises #GP unless the lock bit and the enable bit for
// the current mode are set; once locked, the MSR cannot change until reset.
namespace feature_control {
inline constexpr std::uint64_t kLock = 1U << 0;
inline constexpr std::uint64_t kVmxInsideSmx = 1U << 1;
inline constexpr std::uint64_t kVmxOutsideSmx = 1U << 2;
}  // namespace feature_control

// IA32_VMX_BASIC (A.1).
namespace basic {
inline constexpr std::uint64_t kRevisionMask = 0x7FFF'FFFF;  // bits 30:0
inline constexpr unsigned kVmcsSizeShift = 32;               // bits 44:32
inline constexpr std::uint64_t kVmcsSizeMask = 0x1FFF;
inline constexpr std::uint64_t kAddresses32Bit = std::uint64_t{1} << 48;
inline constexpr unsigned kMemoryTypeShift = 50;  // bits 53:50
inline constexpr std::uint64_t kMemoryTypeMask = 0xF;
inline constexpr std::uint64_t kMemoryTypeWriteBack = 6;
inline constexpr std::uint64_t kInsOutsInfo = std::uint64_t{1} << 54;
inline constexpr std::uint64_t kTrueControls = std::uint64_t{1} << 55;
}  // namespace basic

// IA32_VMX_MISC (A.6).
namespace misc {
inline constexpr std::uint64_t kStoresEferLma = 1U << 5;
inline constexpr std::uint64_t kActivityHlt = 1U << 6;
inline constexpr std::uint64_t kActivityShutdown = 1U << 7;
inline constexpr std::uint64_t kActivityWaitForSipi = 1U << 8;
}  // namespace misc

// Pin-based VM-execution controls (SDM Vol. 3C, 25.6.1).
namespace pin {
inline constexpr std::uint32_t kExternalInterruptExiting = 1U << 0;
inline constexpr std::uint32_t kNmiExiting = 1U << 3;
}  // namespace pin

// Primary processor-based VM-execution controls (25.6.2).
namespace primary {
inline constexpr std::uint32_t kHltExiting = 1U << 7;
inline constexpr std::uint32_t kMwaitExiting = 1U << 10;
inline constexpr std::uint32_t kCr3LoadExiting = 1U << 15;
inline constexpr std::uint32_t kCr3StoreExiting = 1U << 16;
inline constexpr std::uint32_t kUseIoBitmaps = 1U << 25;
inline constexpr std::uint32_t kUseMsrBitmaps = 1U << 28;
inline constexpr std::uint32_t kActivateSecondaryControls = 1U << 31;
}  // namespace primary

// Secondary processor-based VM-execution controls (25.6.2).
// With RDTSCP, INVPCID, XSAVES or user wait/pause off, the guest's use of
// those instructions raises #UD (SDM Vol. 3C, 26.3 "Changes to Instruction
// Behavior in VMX Non-Root Operation"), though CPUID still shows them.
namespace secondary {
inline constexpr std::uint32_t kEnableEpt = 1U << 1;
inline constexpr std::uint32_t kEnableRdtscp = 1U << 3;
inline constexpr std::uint32_t kEnableVpid = 1U << 5;
inline constexpr std::uint32_t kUnrestrictedGuest = 1U << 7;
inline constexpr std::uint32_t kEnableInvpcid = 1U << 12;
inline constexpr std::uint32_t kEnableXsaves = 1U << 20;
inline constexpr std::uint32_t kEnableUserWaitPause = 1U << 26;
}  // namespace secondary

// VM-exit controls (25.7.1).
namespace exit_control {
inline constexpr std::uint32_t kHostAddressSpaceSize = 1U << 9;
inline constexpr std::uint32_t kAcknowledgeInterruptOnExit = 1U << 15;
inline constexpr std::uint32_t kSavePat = 1U << 18;
inline constexpr std::uint32_t kLoadPat = 1U << 19;
inline constexpr std::uint32_t kSaveEfer = 1U << 20;
inline constexpr std::uint32_t kLoadEfer = 1U << 21;
}  // namespace exit_control

// VM-entry controls (25.8.1).
namespace entry_control {
inline constexpr std::uint32_t kIa32eModeGuest = 1U << 9;
inline constexpr std::uint32_t kLoadPat = 1U << 14;
inline constexpr std::uint32_t kLoadEfer = 1U << 15;
}  // namespace entry_control

// IA32_VMX_EPT_VPID_CAP (A.10).
namespace ept_vpid {
inline constexpr std::uint64_t kPageWalk4 = std::uint64_t{1} << 6;
inline constexpr std::uint64_t kWriteBack = std::uint64_t{1} << 14;
inline constexpr std::uint64_t kPages2M = std::uint64_t{1} << 16;
inline constexpr std::uint64_t kPages1G = std::uint64_t{1} << 17;
inline constexpr std::uint64_t kInvept = std::uint64_t{1} << 20;
inline constexpr std::uint64_t kAccessedDirty = std::uint64_t{1} << 21;
inline constexpr std::uint64_t kInveptSingleContext = std::uint64_t{1} << 25;
inline constexpr std::uint64_t kInveptAllContext = std::uint64_t{1} << 26;
inline constexpr std::uint64_t kInvvpid = std::uint64_t{1} << 32;
inline constexpr std::uint64_t kInvvpidIndividualAddress = std::uint64_t{1} << 40;
inline constexpr std::uint64_t kInvvpidSingleContext = std::uint64_t{1} << 41;
inline constexpr std::uint64_t kInvvpidAllContext = std::uint64_t{1} << 42;
}  // namespace ept_vpid

// Architectural control-register bits Boxy treats specially.
inline constexpr std::uint64_t kCr0Pe = std::uint64_t{1} << 0;
inline constexpr std::uint64_t kCr0Ne = std::uint64_t{1} << 5;
inline constexpr std::uint64_t kCr0Pg = std::uint64_t{1} << 31;
inline constexpr std::uint64_t kCr4Vmxe = std::uint64_t{1} << 13;

// Why VMX cannot run Boxy: `feature` names what is missing in a user's
// words ("EPT", "unrestricted guest"), `reason` says where that shows (the
// MSR and bit), for the log and bug reports. Both are string literals.
struct VmxUnsupported {
    std::string_view feature;
    std::string_view reason;
};

// The raw capability MSRs, read by the backend (read_vmx_capabilities) or
// filled by hand in tests. MSRs the CPU does not have stay 0.
struct VmxCapabilities {
    std::uint64_t basic{0};
    std::uint64_t pin_based{0};
    std::uint64_t processor{0};
    std::uint64_t exit{0};
    std::uint64_t entry{0};
    std::uint64_t misc{0};
    std::uint64_t cr0_fixed0{0};
    std::uint64_t cr0_fixed1{0};
    std::uint64_t cr4_fixed0{0};
    std::uint64_t cr4_fixed1{0};
    std::uint64_t secondary{0};       // if primary allowed-1 bit 31
    std::uint64_t ept_vpid{0};        // if secondary allowed-1 has EPT or VPID
    std::uint64_t true_pin_based{0};  // the TRUE_ MSRs: if basic bit 55
    std::uint64_t true_processor{0};
    std::uint64_t true_exit{0};
    std::uint64_t true_entry{0};
};

// Reads the capability MSRs with `read_msr(index)`, only those that exist:
// reading a missing one raises #GP (A.3.3, A.10, A.2).
template <class ReadMsr>
[[nodiscard]] VmxCapabilities read_vmx_capabilities(ReadMsr&& read_msr)
{
    VmxCapabilities caps;
    caps.basic = read_msr(msr::kBasic);
    caps.pin_based = read_msr(msr::kPinBasedControls);
    caps.processor = read_msr(msr::kProcessorControls);
    caps.exit = read_msr(msr::kExitControls);
    caps.entry = read_msr(msr::kEntryControls);
    caps.misc = read_msr(msr::kMisc);
    caps.cr0_fixed0 = read_msr(msr::kCr0Fixed0);
    caps.cr0_fixed1 = read_msr(msr::kCr0Fixed1);
    caps.cr4_fixed0 = read_msr(msr::kCr4Fixed0);
    caps.cr4_fixed1 = read_msr(msr::kCr4Fixed1);
    if (((caps.processor >> 32) & primary::kActivateSecondaryControls) != 0) {
        caps.secondary = read_msr(msr::kSecondaryProcessorControls);
        if (((caps.secondary >> 32) & (secondary::kEnableEpt | secondary::kEnableVpid)) != 0) {
            caps.ept_vpid = read_msr(msr::kEptVpidCapabilities);
        }
    }
    if ((caps.basic & basic::kTrueControls) != 0) {
        caps.true_pin_based = read_msr(msr::kTruePinBasedControls);
        caps.true_processor = read_msr(msr::kTrueProcessorControls);
        caps.true_exit = read_msr(msr::kTrueExitControls);
        caps.true_entry = read_msr(msr::kTrueEntryControls);
    }
    return caps;
}

enum class ControlWord : std::uint8_t { pin_based, primary, secondary, exit, entry };

// The capability MSR value that governs `word`: the TRUE_ MSR when
// IA32_VMX_BASIC bit 55 says it exists, as it reports which default-1
// controls may be cleared (A.2); else the original MSR.
[[nodiscard]] std::uint64_t capability_of(const VmxCapabilities& caps, ControlWord word);

// Required control bits the CPU cannot set (or, with a self-contradicting
// capability MSR, bits it requires to be both 0 and 1).
struct UnsupportedControls {
    std::uint32_t bits;
};

// The control value to write, from a capability MSR value (A.3-A.5):
// bits 31:0 are the allowed 0-settings (a 1 forces the control to 1), bits
// 63:32 the allowed 1-settings (a 0 forces it to 0). Every bit of
// `required` must be settable or the result is an error naming them; bits
// of `desired` the CPU cannot set are dropped.
[[nodiscard]] Result<std::uint32_t, UnsupportedControls> adjust_controls(std::uint32_t desired,
                                                                         std::uint32_t required,
                                                                         std::uint64_t capability);

// The controls Boxy runs with on this CPU, and what else it may use.
struct VmxSetup {
    std::uint32_t pin_based;             // host VM: interrupts and NMIs go to it directly
    std::uint32_t pin_based_service_vm;  // + external-interrupt exiting: the host keeps its CPU
    std::uint32_t primary;
    std::uint32_t secondary;
    std::uint32_t exit;
    // Without IA-32e mode guest: the backend sets that per guest state
    // (EFER.LMA), and VM exits update it (SDM Vol. 3C, 28.2; A.6 bit 5).
    std::uint32_t entry;
    std::uint32_t vmcs_revision;  // first word of the VMXON region and of every VMCS
    std::uint32_t vmcs_size;      // bytes the CPU uses of each 4 KiB region
    bool vpid;                    // kEnableVpid is in `secondary`
    bool ept_2m_pages;
    bool ept_1g_pages;
    bool ept_accessed_dirty;
    bool invept_single_context;
    bool invept_all_context;
    bool invvpid_single_context;
    bool invvpid_all_context;
    bool activity_wait_for_sipi;  // VM entry to the wait-for-SIPI activity state
    bool ins_outs_info;           // VM exits for INS/OUTS report instruction information
};

// What Boxy will run with, or the first missing feature a user can look
// for (in the firmware setup, or the CPU's specification).
[[nodiscard]] Result<VmxSetup, VmxUnsupported> check_vmx_support(const VmxCapabilities& caps);

// A guest CR0 or CR4 under VMX (SDM Vol. 3D, A.7, A.8; Vol. 3C, 27.3.1.1):
// every bit FIXED0 has set must be 1 and every bit FIXED1 has clear must be
// 0 while in VMX operation. The guest keeps its own view of those bits
// through the guest/host mask and the read shadow (25.6.6): reads of a
// masked bit return the shadow, and a MOV to CR that would change a masked
// bit away from the shadow exits (cr_access) instead.
struct GuestControlRegister {
    std::uint64_t value;    // the guest CR0/CR4 field: what the CPU runs with
    std::uint64_t mask;     // the guest/host mask: bits the VMM owns
    std::uint64_t shadow;   // the read shadow: the guest's view of owned bits
    std::uint64_t refused;  // bits of `wanted` the guest may not set (#GP on a guest write)
};

// With unrestricted guest, CR0.PE and CR0.PG are exempt from FIXED0 and the
// guest owns them: it may run in real mode or without paging (27.3.1.1).
[[nodiscard]] GuestControlRegister guest_cr0(std::uint64_t wanted, std::uint64_t fixed0,
                                             std::uint64_t fixed1, bool unrestricted_guest);

// CR4.VMXE is set while the guest runs (FIXED0 demands it), but the guest
// neither sees it (the shadow has it clear) nor may set it: Boxy hides VMX,
// so a write of VMXE is refused as on a CPU without it (SDM Vol. 3A, 2.5:
// setting a reserved CR4 bit raises #GP).
[[nodiscard]] GuestControlRegister guest_cr4(std::uint64_t wanted, std::uint64_t fixed0,
                                             std::uint64_t fixed1);

// What to do with IA32_FEATURE_CONTROL before VMXON.
struct FeatureControlPlan {
    bool write;           // true: wrmsr(kFeatureControl, value) first
    std::uint64_t value;  // the MSR value with lock and VMX-outside-SMX set
};

// Locked with VMX outside SMX enabled: nothing to do. Unlocked: the VMM
// sets both bits itself (Linux does the same). Locked without it: the
// firmware disabled VMX and only its setup menu can change that.
[[nodiscard]] Result<FeatureControlPlan, VmxUnsupported> plan_feature_control(
    std::uint64_t feature_control_msr);

}  // namespace boxy::vmx
