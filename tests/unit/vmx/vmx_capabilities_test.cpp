// SPDX-License-Identifier: MIT
//
// VMX capability checks and control values against a real CPU's MSRs: the
// Intel Core i7-7800X (Skylake-X) values recorded in Bochs's CPU database
// (bochs/cpu/cpudb/intel/corei7_skylake-x.cc, "MSR 00000480: 00DA-0400-
// 0000-0004" and so on), then with each feature Boxy needs removed in turn.
#include "vmx_capabilities.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace boxy::vmx;

namespace {

VmxCapabilities skylake_x()
{
    VmxCapabilities caps;
    caps.basic = 0x00DA'0400'0000'0004;
    caps.pin_based = 0x0000'00FF'0000'0016;
    caps.processor = 0xFFF9'FFFE'0401'E172;
    caps.exit = 0x01FF'FFFF'0003'6DFF;
    caps.entry = 0x0003'FFFF'0000'11FF;
    caps.misc = 0x0000'0000'7004'C1E7;
    caps.cr0_fixed0 = 0x8000'0021;
    caps.cr0_fixed1 = 0xFFFF'FFFF;
    caps.cr4_fixed0 = 0x0000'2000;
    caps.cr4_fixed1 = 0x0037'27FF;
    caps.secondary = 0x025D'3FFF'0000'0000;
    caps.ept_vpid = 0x0000'0F01'0673'4141;
    caps.true_pin_based = 0x0000'00FF'0000'0016;
    caps.true_processor = 0xFFF9'FFFE'0400'6172;
    caps.true_exit = 0x01FF'FFFF'0003'6DFB;
    caps.true_entry = 0x0003'FFFF'0000'11FB;
    return caps;
}

// Makes control `bit` of `word` unsettable, in the TRUE_ MSR too (both
// report the same allowed-1 settings, A.3.2).
void remove_control(VmxCapabilities& caps, ControlWord word, std::uint32_t bit)
{
    const std::uint64_t allowed_one = std::uint64_t{bit} << 32;
    switch (word) {
        case ControlWord::pin_based:
            caps.pin_based &= ~allowed_one;
            caps.true_pin_based &= ~allowed_one;
            break;
        case ControlWord::primary:
            caps.processor &= ~allowed_one;
            caps.true_processor &= ~allowed_one;
            break;
        case ControlWord::secondary: caps.secondary &= ~allowed_one; break;
        case ControlWord::exit:
            caps.exit &= ~allowed_one;
            caps.true_exit &= ~allowed_one;
            break;
        case ControlWord::entry:
            caps.entry &= ~allowed_one;
            caps.true_entry &= ~allowed_one;
            break;
    }
}

std::string feature_missing(const VmxCapabilities& caps)
{
    auto setup = check_vmx_support(caps);
    REQUIRE_FALSE(setup.has_value());
    CHECK_FALSE(setup.error().reason.empty());
    return std::string{setup.error().feature};
}

}  // namespace

TEST_CASE("adjust_controls: allowed-0 bits forced, allowed-1 bits limit")
{
    // Must-be-one bits 1, 2, 4 (0x16); bits 0..7 may be one.
    constexpr std::uint64_t kCapability = 0x0000'00FF'0000'0016;
    auto forced = adjust_controls(0, 0, kCapability);
    REQUIRE(forced.has_value());
    CHECK(*forced == 0x16);

    auto wanted = adjust_controls(0, 0x9, kCapability);
    REQUIRE(wanted.has_value());
    CHECK(*wanted == 0x1F);

    // An optional bit the CPU cannot set is dropped silently.
    auto dropped = adjust_controls(0x101, 0, kCapability);
    REQUIRE(dropped.has_value());
    CHECK(*dropped == 0x17);

    // A required bit the CPU cannot set is an error naming exactly it.
    auto impossible = adjust_controls(0x1, 0x300, kCapability);
    REQUIRE_FALSE(impossible.has_value());
    CHECK(impossible.error().bits == 0x300);

    // A control that must be 1 but may not be 1 cannot be satisfied.
    auto contradictory = adjust_controls(0, 0, 0x0000'000F'0000'0010);
    REQUIRE_FALSE(contradictory.has_value());
    CHECK(contradictory.error().bits == 0x10);
}

TEST_CASE("capability_of: the TRUE_ MSRs when IA32_VMX_BASIC bit 55 is set")
{
    VmxCapabilities caps = skylake_x();
    CHECK(capability_of(caps, ControlWord::primary) == caps.true_processor);
    CHECK(capability_of(caps, ControlWord::exit) == caps.true_exit);
    CHECK(capability_of(caps, ControlWord::entry) == caps.true_entry);
    CHECK(capability_of(caps, ControlWord::pin_based) == caps.true_pin_based);
    CHECK(capability_of(caps, ControlWord::secondary) == caps.secondary);
    caps.basic &= ~basic::kTrueControls;
    CHECK(capability_of(caps, ControlWord::primary) == caps.processor);
    CHECK(capability_of(caps, ControlWord::exit) == caps.exit);
    CHECK(capability_of(caps, ControlWord::entry) == caps.entry);
    CHECK(capability_of(caps, ControlWord::pin_based) == caps.pin_based);
}

TEST_CASE("read_vmx_capabilities reads only the MSRs that exist")
{
    const VmxCapabilities real = skylake_x();
    const std::map<std::uint32_t, std::uint64_t> msrs{
        {msr::kBasic, real.basic},
        {msr::kPinBasedControls, real.pin_based},
        {msr::kProcessorControls, real.processor},
        {msr::kExitControls, real.exit},
        {msr::kEntryControls, real.entry},
        {msr::kMisc, real.misc},
        {msr::kCr0Fixed0, real.cr0_fixed0},
        {msr::kCr0Fixed1, real.cr0_fixed1},
        {msr::kCr4Fixed0, real.cr4_fixed0},
        {msr::kCr4Fixed1, real.cr4_fixed1},
        {msr::kSecondaryProcessorControls, real.secondary},
        {msr::kEptVpidCapabilities, real.ept_vpid},
        {msr::kTruePinBasedControls, real.true_pin_based},
        {msr::kTrueProcessorControls, real.true_processor},
        {msr::kTrueExitControls, real.true_exit},
        {msr::kTrueEntryControls, real.true_entry},
    };
    std::map<std::uint32_t, std::uint64_t> cpu = msrs;
    std::vector<std::uint32_t> read;
    auto reader = [&](std::uint32_t index) {
        read.push_back(index);
        const auto found = cpu.find(index);
        REQUIRE(found != cpu.end());  // a missing MSR would #GP
        return found->second;
    };

    const VmxCapabilities all = read_vmx_capabilities(reader);
    CHECK(read.size() == 16);
    CHECK(all.true_processor == real.true_processor);
    CHECK(all.ept_vpid == real.ept_vpid);
    CHECK(all.cr4_fixed1 == real.cr4_fixed1);

    // No TRUE_ MSRs without IA32_VMX_BASIC bit 55.
    read.clear();
    cpu[msr::kBasic] = real.basic & ~basic::kTrueControls;
    for (std::uint32_t index = msr::kTruePinBasedControls; index <= msr::kTrueEntryControls;
         ++index) {
        cpu.erase(index);
    }
    const VmxCapabilities old = read_vmx_capabilities(reader);
    CHECK(read.size() == 12);
    CHECK(old.true_processor == 0);

    // No secondary controls: neither PROCBASED_CTLS2 nor EPT_VPID_CAP.
    read.clear();
    cpu[msr::kProcessorControls] = real.processor & ~(std::uint64_t{1} << 63);
    cpu.erase(msr::kSecondaryProcessorControls);
    cpu.erase(msr::kEptVpidCapabilities);
    const VmxCapabilities first_generation = read_vmx_capabilities(reader);
    CHECK(read.size() == 10);
    CHECK(first_generation.secondary == 0);
    CHECK(feature_missing(first_generation) == "secondary processor-based controls");
}

TEST_CASE("check_vmx_support: a Skylake-X runs Boxy with EPT, unrestricted guest and VPID")
{
    auto setup = check_vmx_support(skylake_x());
    REQUIRE(setup.has_value());
    // The TRUE_ MSRs let CR3-load/store exiting (bits 15, 16) stay clear.
    CHECK(setup->pin_based == 0x16);
    CHECK(setup->pin_based_service_vm == 0x17);
    CHECK(setup->primary ==
          (0x0400'6172U | primary::kHltExiting | primary::kMwaitExiting | primary::kUseIoBitmaps |
           primary::kUseMsrBitmaps | primary::kActivateSecondaryControls));
    CHECK(setup->primary == 0x9600'65F2);
    CHECK((setup->primary & (primary::kCr3LoadExiting | primary::kCr3StoreExiting)) == 0);
    // EPT, RDTSCP, VPID, unrestricted guest, INVPCID, XSAVES; no user
    // wait/pause (bit 26) on this CPU.
    CHECK(setup->secondary == 0x0010'10AA);
    CHECK(setup->exit == 0x003F'6FFB);
    CHECK((setup->exit & exit_control::kAcknowledgeInterruptOnExit) == 0);
    CHECK(setup->entry == 0x0000'D1FB);
    CHECK((setup->entry & entry_control::kIa32eModeGuest) == 0);
    CHECK(setup->vmcs_revision == 4);
    CHECK(setup->vmcs_size == 0x400);
    CHECK(setup->vpid);
    CHECK(setup->ept_2m_pages);
    CHECK(setup->ept_1g_pages);
    CHECK(setup->ept_accessed_dirty);
    CHECK(setup->invept_single_context);
    CHECK(setup->invept_all_context);
    CHECK(setup->invvpid_single_context);
    CHECK(setup->invvpid_all_context);
    CHECK(setup->activity_wait_for_sipi);
    CHECK(setup->ins_outs_info);
}

TEST_CASE("check_vmx_support: without TRUE_ MSRs the default-1 controls stay set")
{
    VmxCapabilities caps = skylake_x();
    caps.basic &= ~basic::kTrueControls;
    caps.true_pin_based = caps.true_processor = caps.true_exit = caps.true_entry = 0;
    auto setup = check_vmx_support(caps);
    REQUIRE(setup.has_value());
    CHECK(setup->primary == 0x9601'E5F2);  // CR3-load/store exiting forced on
    CHECK(setup->exit == 0x003F'6FFF);     // save debug controls forced on
    CHECK(setup->entry == 0x0000'D1FF);    // load debug controls forced on
}

TEST_CASE("check_vmx_support: optional features are used only when present")
{
    SECTION("no VPID control")
    {
        VmxCapabilities caps = skylake_x();
        remove_control(caps, ControlWord::secondary, secondary::kEnableVpid);
        auto setup = check_vmx_support(caps);
        REQUIRE(setup.has_value());
        CHECK_FALSE(setup->vpid);
        CHECK((setup->secondary & secondary::kEnableVpid) == 0);
        CHECK_FALSE(setup->invvpid_single_context);
    }
    SECTION("VPID without INVVPID")
    {
        VmxCapabilities caps = skylake_x();
        caps.ept_vpid &= ~ept_vpid::kInvvpid;
        auto setup = check_vmx_support(caps);
        REQUIRE(setup.has_value());
        CHECK_FALSE(setup->vpid);
        CHECK((setup->secondary & secondary::kEnableVpid) == 0);
    }
    SECTION("no MWAIT exiting (a CPU without MONITOR/MWAIT)")
    {
        VmxCapabilities caps = skylake_x();
        remove_control(caps, ControlWord::primary, primary::kMwaitExiting);
        auto setup = check_vmx_support(caps);
        REQUIRE(setup.has_value());
        CHECK((setup->primary & primary::kMwaitExiting) == 0);
    }
    SECTION("no RDTSCP, INVPCID or XSAVES; user wait/pause where present")
    {
        VmxCapabilities caps = skylake_x();
        remove_control(caps, ControlWord::secondary, secondary::kEnableRdtscp);
        remove_control(caps, ControlWord::secondary, secondary::kEnableInvpcid);
        remove_control(caps, ControlWord::secondary, secondary::kEnableXsaves);
        caps.secondary |= std::uint64_t{secondary::kEnableUserWaitPause} << 32;
        auto setup = check_vmx_support(caps);
        REQUIRE(setup.has_value());
        CHECK(setup->secondary == (secondary::kEnableEpt | secondary::kUnrestrictedGuest |
                                   secondary::kEnableVpid | secondary::kEnableUserWaitPause));
    }
    SECTION("no 1 GiB pages, one INVEPT type")
    {
        VmxCapabilities caps = skylake_x();
        caps.ept_vpid &= ~(ept_vpid::kPages1G | ept_vpid::kInveptAllContext);
        auto setup = check_vmx_support(caps);
        REQUIRE(setup.has_value());
        CHECK_FALSE(setup->ept_1g_pages);
        CHECK(setup->invept_single_context);
        CHECK_FALSE(setup->invept_all_context);
    }
}

TEST_CASE("check_vmx_support: each required feature removed in turn is named")
{
    struct Removal {
        std::string feature;
        std::function<void(VmxCapabilities&)> remove;
    };
    auto control = [](ControlWord word, std::uint32_t bit) {
        return [word, bit](VmxCapabilities& caps) { remove_control(caps, word, bit); };
    };
    auto ept_capability = [](std::uint64_t bits) {
        return [bits](VmxCapabilities& caps) { caps.ept_vpid &= ~bits; };
    };
    const std::vector<Removal> removals{
        {"VMCS memory type write-back",
         [](VmxCapabilities& caps) { caps.basic &= ~(std::uint64_t{0xF} << 50); }},
        {"64-bit VMCS addresses",
         [](VmxCapabilities& caps) { caps.basic |= basic::kAddresses32Bit; }},
        {"a VMCS that fits a 4 KiB page",
         [](VmxCapabilities& caps) { caps.basic |= std::uint64_t{0x1001} << 32; }},
        {"secondary processor-based controls",
         control(ControlWord::primary, primary::kActivateSecondaryControls)},
        {"MSR bitmaps", control(ControlWord::primary, primary::kUseMsrBitmaps)},
        {"I/O bitmaps", control(ControlWord::primary, primary::kUseIoBitmaps)},
        {"HLT exiting", control(ControlWord::primary, primary::kHltExiting)},
        {"EPT", control(ControlWord::secondary, secondary::kEnableEpt)},
        {"unrestricted guest", control(ControlWord::secondary, secondary::kUnrestrictedGuest)},
        {"EPT 4-level page walk", ept_capability(ept_vpid::kPageWalk4)},
        {"EPT write-back paging structures", ept_capability(ept_vpid::kWriteBack)},
        {"INVEPT", ept_capability(ept_vpid::kInvept)},
        {"INVEPT single-context or all-context invalidation",
         ept_capability(ept_vpid::kInveptSingleContext | ept_vpid::kInveptAllContext)},
        {"external-interrupt exiting",
         control(ControlWord::pin_based, pin::kExternalInterruptExiting)},
        {"64-bit host (host address-space size)",
         control(ControlWord::exit, exit_control::kHostAddressSpaceSize)},
        {"IA32_PAT save on VM exit", control(ControlWord::exit, exit_control::kSavePat)},
        {"IA32_PAT load on VM exit", control(ControlWord::exit, exit_control::kLoadPat)},
        {"IA32_EFER save on VM exit", control(ControlWord::exit, exit_control::kSaveEfer)},
        {"IA32_EFER load on VM exit", control(ControlWord::exit, exit_control::kLoadEfer)},
        {"64-bit guests (IA-32e mode guest)",
         control(ControlWord::entry, entry_control::kIa32eModeGuest)},
        {"IA32_PAT load on VM entry", control(ControlWord::entry, entry_control::kLoadPat)},
        {"IA32_EFER load on VM entry", control(ControlWord::entry, entry_control::kLoadEfer)},
    };
    for (const Removal& removal : removals) {
        INFO("removed: " << removal.feature);
        VmxCapabilities caps = skylake_x();
        removal.remove(caps);
        CHECK(feature_missing(caps) == removal.feature);
    }
}

TEST_CASE("check_vmx_support: the reason names the MSR and bit")
{
    VmxCapabilities caps = skylake_x();
    remove_control(caps, ControlWord::secondary, secondary::kEnableEpt);
    auto setup = check_vmx_support(caps);
    REQUIRE_FALSE(setup.has_value());
    CHECK(setup.error().feature == "EPT");
    CHECK(setup.error().reason == "IA32_VMX_PROCBASED_CTLS2 bit 33 (allowed-1 of bit 1) is clear");
}

TEST_CASE("plan_feature_control: locked, unlocked, and disabled by the firmware")
{
    SECTION("locked with VMX outside SMX: nothing to do")
    {
        auto plan = plan_feature_control(0x5);
        REQUIRE(plan.has_value());
        CHECK_FALSE(plan->write);
    }
    SECTION("unlocked: the VMM enables and locks, keeping the other bits")
    {
        auto plan = plan_feature_control(0x10'0000);  // LMCE on, unlocked
        REQUIRE(plan.has_value());
        CHECK(plan->write);
        CHECK(plan->value == 0x10'0005);
        auto reset = plan_feature_control(0);
        REQUIRE(reset.has_value());
        CHECK(reset->value == (feature_control::kLock | feature_control::kVmxOutsideSmx));
    }
    SECTION("locked without VMX outside SMX: refused")
    {
        for (const std::uint64_t value : {std::uint64_t{0x1}, std::uint64_t{0x3}}) {
            auto plan = plan_feature_control(value);
            REQUIRE_FALSE(plan.has_value());
            CHECK(plan.error().reason == "VMX disabled in firmware (IA32_FEATURE_CONTROL locked)");
        }
    }
}
