// SPDX-License-Identifier: MIT
#include "vmx_capabilities.hpp"

#include <span>

namespace boxy::vmx {
namespace {

// A control bit Boxy cannot run without, and how to name it to a user.
struct RequiredBit {
    std::uint64_t bit;
    std::string_view feature;
    std::string_view reason;
};

// Checked in this order; the first missing one is reported.
constexpr RequiredBit kRequiredPrimary[] = {
    {primary::kActivateSecondaryControls, "secondary processor-based controls",
     "IA32_VMX_PROCBASED_CTLS bit 63 (allowed-1 of bit 31) is clear"},
    {primary::kUseMsrBitmaps, "MSR bitmaps",
     "IA32_VMX_PROCBASED_CTLS bit 60 (allowed-1 of bit 28) is clear"},
    {primary::kUseIoBitmaps, "I/O bitmaps",
     "IA32_VMX_PROCBASED_CTLS bit 57 (allowed-1 of bit 25) is clear"},
    {primary::kHltExiting, "HLT exiting",
     "IA32_VMX_PROCBASED_CTLS bit 39 (allowed-1 of bit 7) is clear"},
};

constexpr RequiredBit kRequiredSecondary[] = {
    {secondary::kEnableEpt, "EPT", "IA32_VMX_PROCBASED_CTLS2 bit 33 (allowed-1 of bit 1) is clear"},
    {secondary::kUnrestrictedGuest, "unrestricted guest",
     "IA32_VMX_PROCBASED_CTLS2 bit 39 (allowed-1 of bit 7) is clear"},
};

constexpr RequiredBit kRequiredPin[] = {
    {pin::kExternalInterruptExiting, "external-interrupt exiting",
     "IA32_VMX_PINBASED_CTLS bit 32 (allowed-1 of bit 0) is clear"},
};

constexpr RequiredBit kRequiredExit[] = {
    {exit_control::kHostAddressSpaceSize, "64-bit host (host address-space size)",
     "IA32_VMX_EXIT_CTLS bit 41 (allowed-1 of bit 9) is clear"},
    {exit_control::kSavePat, "IA32_PAT save on VM exit",
     "IA32_VMX_EXIT_CTLS bit 50 (allowed-1 of bit 18) is clear"},
    {exit_control::kLoadPat, "IA32_PAT load on VM exit",
     "IA32_VMX_EXIT_CTLS bit 51 (allowed-1 of bit 19) is clear"},
    {exit_control::kSaveEfer, "IA32_EFER save on VM exit",
     "IA32_VMX_EXIT_CTLS bit 52 (allowed-1 of bit 20) is clear"},
    {exit_control::kLoadEfer, "IA32_EFER load on VM exit",
     "IA32_VMX_EXIT_CTLS bit 53 (allowed-1 of bit 21) is clear"},
};

constexpr RequiredBit kRequiredEntry[] = {
    {entry_control::kIa32eModeGuest, "64-bit guests (IA-32e mode guest)",
     "IA32_VMX_ENTRY_CTLS bit 41 (allowed-1 of bit 9) is clear"},
    {entry_control::kLoadPat, "IA32_PAT load on VM entry",
     "IA32_VMX_ENTRY_CTLS bit 46 (allowed-1 of bit 14) is clear"},
    {entry_control::kLoadEfer, "IA32_EFER load on VM entry",
     "IA32_VMX_ENTRY_CTLS bit 47 (allowed-1 of bit 15) is clear"},
};

// The EPT features the identity map and its invalidation rely on: a
// 4-level table (vmm/memory builds 4 levels), write-back table accesses
// (ept_pointer() asks for WB), and INVEPT after changing the tables.
constexpr RequiredBit kRequiredEpt[] = {
    {ept_vpid::kPageWalk4, "EPT 4-level page walk", "IA32_VMX_EPT_VPID_CAP bit 6 is clear"},
    {ept_vpid::kWriteBack, "EPT write-back paging structures",
     "IA32_VMX_EPT_VPID_CAP bit 14 is clear"},
    {ept_vpid::kInvept, "INVEPT", "IA32_VMX_EPT_VPID_CAP bit 20 is clear"},
};

[[nodiscard]] constexpr std::uint32_t allowed_one(std::uint64_t capability)
{
    return static_cast<std::uint32_t>(capability >> 32);
}

// The first of `bits` that `supported` lacks, or null if it has them all.
[[nodiscard]] const RequiredBit* first_missing(std::span<const RequiredBit> bits,
                                               std::uint64_t supported)
{
    for (const RequiredBit& required : bits) {
        if ((supported & required.bit) == 0) {
            return &required;
        }
    }
    return nullptr;
}

[[nodiscard]] constexpr std::uint32_t mask_of(std::span<const RequiredBit> bits)
{
    std::uint64_t mask = 0;
    for (const RequiredBit& required : bits) {
        mask |= required.bit;
    }
    return static_cast<std::uint32_t>(mask);
}

// The control value for `word`, with the required bits named if missing.
[[nodiscard]] Result<std::uint32_t, VmxUnsupported> controls_for(
    const VmxCapabilities& caps, ControlWord word, std::span<const RequiredBit> required,
    std::uint32_t optional)
{
    const std::uint64_t capability = capability_of(caps, word);
    if (const RequiredBit* missing = first_missing(required, allowed_one(capability))) {
        return make_error(VmxUnsupported{missing->feature, missing->reason});
    }
    auto value = adjust_controls(optional, mask_of(required), capability);
    if (!value) {
        // The required bits are settable, so only a capability MSR that
        // demands a control be both 0 and 1 gets here.
        return make_error(VmxUnsupported{"consistent VMX capability MSRs",
                                         "a control's allowed-0 bit is set but its allowed-1 "
                                         "bit is clear"});
    }
    return *value;
}

[[nodiscard]] GuestControlRegister fixed_register(std::uint64_t wanted, std::uint64_t must_be_one,
                                                  std::uint64_t must_be_zero, std::uint64_t hidden)
{
    const std::uint64_t refused = wanted & (must_be_zero | hidden);
    const std::uint64_t guest_view = wanted & ~refused;
    return GuestControlRegister{(guest_view | must_be_one) & ~must_be_zero,
                                must_be_one | must_be_zero | hidden, guest_view, refused};
}

}  // namespace

std::uint64_t capability_of(const VmxCapabilities& caps, ControlWord word)
{
    const bool use_true = (caps.basic & basic::kTrueControls) != 0;
    switch (word) {
        case ControlWord::pin_based: return use_true ? caps.true_pin_based : caps.pin_based;
        case ControlWord::primary: return use_true ? caps.true_processor : caps.processor;
        case ControlWord::secondary: return caps.secondary;  // no TRUE_ variant (A.3.3)
        case ControlWord::exit: return use_true ? caps.true_exit : caps.exit;
        case ControlWord::entry: return use_true ? caps.true_entry : caps.entry;
    }
    return 0;
}

Result<std::uint32_t, UnsupportedControls> adjust_controls(std::uint32_t desired,
                                                           std::uint32_t required,
                                                           std::uint64_t capability)
{
    const auto must_be_one = static_cast<std::uint32_t>(capability);
    const std::uint32_t may_be_one = allowed_one(capability);
    const std::uint32_t impossible = (required & ~may_be_one) | (must_be_one & ~may_be_one);
    if (impossible != 0) {
        return make_error(UnsupportedControls{impossible});
    }
    return ((desired | required) & may_be_one) | must_be_one;
}

Result<VmxSetup, VmxUnsupported> check_vmx_support(const VmxCapabilities& caps)
{
    // The VMXON region and VMCSs are ordinary write-back pool pages, which
    // the CPU must access as such (A.1), anywhere in physical memory.
    if (((caps.basic >> basic::kMemoryTypeShift) & basic::kMemoryTypeMask) !=
        basic::kMemoryTypeWriteBack) {
        return make_error(VmxUnsupported{"VMCS memory type write-back",
                                         "IA32_VMX_BASIC bits 53:50 are not 6 (write-back)"});
    }
    if ((caps.basic & basic::kAddresses32Bit) != 0) {
        return make_error(VmxUnsupported{"64-bit VMCS addresses",
                                         "IA32_VMX_BASIC bit 48 is set (VMX structures below "
                                         "4 GiB only)"});
    }
    const auto vmcs_size =
        static_cast<std::uint32_t>((caps.basic >> basic::kVmcsSizeShift) & basic::kVmcsSizeMask);
    constexpr std::uint32_t kPageBytes = 4096;
    if (vmcs_size == 0 || vmcs_size > kPageBytes) {
        return make_error(VmxUnsupported{"a VMCS that fits a 4 KiB page",
                                         "IA32_VMX_BASIC bits 44:32 are 0 or above 4096"});
    }

    VmxSetup setup{};
    setup.vmcs_revision = static_cast<std::uint32_t>(caps.basic & basic::kRevisionMask);
    setup.vmcs_size = vmcs_size;
    setup.ins_outs_info = (caps.basic & basic::kInsOutsInfo) != 0;

    // HLT and MWAIT exit while a CPU may wait to be started
    // (vmm/core/xapic.hpp); a CPU without MONITOR/MWAIT may lack the MWAIT
    // control, and then its guests cannot execute MWAIT at all.
    auto primary =
        controls_for(caps, ControlWord::primary, kRequiredPrimary, primary::kMwaitExiting);
    if (!primary) {
        return make_error(primary.error());
    }
    setup.primary = *primary;

    // EPT capabilities exist only with EPT (A.10): secondary controls first.
    const std::uint64_t ept = caps.ept_vpid;
    const bool has_ept = (allowed_one(caps.secondary) & secondary::kEnableEpt) != 0;
    if (has_ept) {
        if (const RequiredBit* missing = first_missing(kRequiredEpt, ept)) {
            return make_error(VmxUnsupported{missing->feature, missing->reason});
        }
        if ((ept & (ept_vpid::kInveptSingleContext | ept_vpid::kInveptAllContext)) == 0) {
            return make_error(VmxUnsupported{"INVEPT single-context or all-context invalidation",
                                             "IA32_VMX_EPT_VPID_CAP bits 25 and 26 are clear"});
        }
    }
    // VPID needs INVVPID: translations tagged with a VPID survive VM exits
    // and entries, so the VMM must flush them itself when it changes the
    // guest's paging behind its back (an emulated INIT) or reuses the VPID
    // (SDM Vol. 3C, 29.4.3.3 "Guidelines for Use of the INVVPID Instruction").
    setup.vpid = (allowed_one(caps.secondary) & secondary::kEnableVpid) != 0 &&
                 (ept & ept_vpid::kInvvpid) != 0 &&
                 (ept & (ept_vpid::kInvvpidSingleContext | ept_vpid::kInvvpidAllContext)) != 0;
    const std::uint32_t optional_secondary =
        secondary::kEnableRdtscp | secondary::kEnableInvpcid | secondary::kEnableXsaves |
        secondary::kEnableUserWaitPause | (setup.vpid ? secondary::kEnableVpid : 0);
    auto secondary =
        controls_for(caps, ControlWord::secondary, kRequiredSecondary, optional_secondary);
    if (!secondary) {
        return make_error(secondary.error());
    }
    setup.secondary = *secondary;
    setup.ept_2m_pages = (ept & ept_vpid::kPages2M) != 0;
    setup.ept_1g_pages = (ept & ept_vpid::kPages1G) != 0;
    setup.ept_accessed_dirty = (ept & ept_vpid::kAccessedDirty) != 0;
    setup.invept_single_context = (ept & ept_vpid::kInveptSingleContext) != 0;
    setup.invept_all_context = (ept & ept_vpid::kInveptAllContext) != 0;
    setup.invvpid_single_context = setup.vpid && (ept & ept_vpid::kInvvpidSingleContext) != 0;
    setup.invvpid_all_context = setup.vpid && (ept & ept_vpid::kInvvpidAllContext) != 0;

    // The host VM takes its interrupts and NMIs directly; a service VM
    // exits on external interrupts so the host's scheduler keeps the CPU
    // (docs/architecture.md).
    auto pin_based = controls_for(caps, ControlWord::pin_based, {}, 0);
    auto pin_service = controls_for(caps, ControlWord::pin_based, kRequiredPin, 0);
    if (!pin_service) {
        return make_error(pin_service.error());
    }
    if (!pin_based) {
        return make_error(pin_based.error());
    }
    setup.pin_based = *pin_based;
    setup.pin_based_service_vm = *pin_service;

    // "Acknowledge interrupt on exit" stays off: an interrupt that ends a
    // service VM's run stays pending in the local APIC and reaches the host
    // VM when it resumes, so the VMM never has to re-inject it (SDM Vol. 3C,
    // 25.7.1; 28.2.2 for what the CPU records when it does acknowledge).
    auto exit = controls_for(caps, ControlWord::exit, kRequiredExit, 0);
    if (!exit) {
        return make_error(exit.error());
    }
    setup.exit = *exit;

    auto entry = controls_for(caps, ControlWord::entry, kRequiredEntry, 0);
    if (!entry) {
        return make_error(entry.error());
    }
    // IA-32e mode guest had to be settable; whether it is set depends on
    // the guest, unless the CPU forces it.
    const auto entry_must_be_one =
        static_cast<std::uint32_t>(capability_of(caps, ControlWord::entry));
    setup.entry = *entry & ~(entry_control::kIa32eModeGuest & ~entry_must_be_one);

    setup.activity_wait_for_sipi = (caps.misc & misc::kActivityWaitForSipi) != 0;
    return setup;
}

GuestControlRegister guest_cr0(std::uint64_t wanted, std::uint64_t fixed0, std::uint64_t fixed1,
                               bool unrestricted_guest)
{
    std::uint64_t must_be_one = fixed0;
    if (unrestricted_guest) {
        must_be_one &= ~(kCr0Pe | kCr0Pg);
    }
    return fixed_register(wanted, must_be_one, ~fixed1, 0);
}

GuestControlRegister guest_cr4(std::uint64_t wanted, std::uint64_t fixed0, std::uint64_t fixed1)
{
    return fixed_register(wanted, fixed0, ~fixed1, kCr4Vmxe);
}

Result<FeatureControlPlan, VmxUnsupported> plan_feature_control(std::uint64_t feature_control_msr)
{
    using namespace feature_control;
    if ((feature_control_msr & kLock) != 0) {
        if ((feature_control_msr & kVmxOutsideSmx) != 0) {
            return FeatureControlPlan{false, feature_control_msr};
        }
        return make_error(
            VmxUnsupported{"VMX", "VMX disabled in firmware (IA32_FEATURE_CONTROL locked)"});
    }
    // Unlocked (SDM Vol. 3C, 24.7): VMXON would raise #GP until the lock
    // bit is set, so set it together with the enable bit; the other bits
    // (SMX, SGX, LMCE) keep the firmware's values.
    return FeatureControlPlan{true, feature_control_msr | kLock | kVmxOutsideSmx};
}

}  // namespace boxy::vmx
