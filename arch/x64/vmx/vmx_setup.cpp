// SPDX-License-Identifier: MIT
//
// VT-x set-up: the checks, the state shared by all CPUs (EPT, MSR and I/O
// bitmaps) and each CPU's VMXON region and VMCS, filled from the CPU's
// running state so that it continues as the host VM.
#include "core/backend.hpp"
#include "core/log.hpp"
#include "core/vmm_state.hpp"
#include "memory/mtrr.hpp"
#include "vmcs.hpp"
#include "vmx.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>
#include <arch/x64/segment.hpp>
#include <arch/x64/virtualization_support.hpp>

namespace boxy::vmx {
namespace {

namespace x64msr = x64::msr;
using vmm::log::Level;
using vmm::log::Line;

constinit VmxState vmx;
// Why the last check failed, for unsupported(); static storage, so the
// view stays valid.
constinit VmxUnsupported last_refusal{};

// The CPUID and IA32_FEATURE_CONTROL checks the loader makes too, then
// the VMX capability MSRs.
std::string_view unsupported()
{
    if (const auto why = x64::missing_vmx_feature(); !why.empty()) {
        return why;
    }
    const auto caps = read_vmx_capabilities([](std::uint32_t index) { return x64::rdmsr(index); });
    if (auto setup = check_vmx_support(caps); !setup) {
        last_refusal = setup.error();
        return last_refusal.reason;
    }
    return {};
}

// The host's MTRRs as EPT memory types: under EPT the CPU ignores MTRRs
// for guest accesses (SDM Vol. 3C, 29.3.7.2), so the VMM must carry them.
constinit vmm::MemoryTypeRange mtrr_ranges[vmm::kMaxMtrrRanges]{};

bool read_mtrr_map(vmm::IdentityMapConfig& map)
{
    vmm::MtrrState m;
    m.capabilities = x64::rdmsr(vmm::mtrr_msr::kCapabilities);
    m.default_type = x64::rdmsr(vmm::mtrr_msr::kDefaultType);
    constexpr std::uint64_t kFixedSupported = 1U << 8;  // IA32_MTRRCAP.FIX
    if ((m.capabilities & kFixedSupported) != 0) {
        for (std::size_t i = 0; i < m.fixed.size(); ++i) {
            m.fixed[i] = x64::rdmsr(vmm::mtrr_msr::kFixed[i]);
        }
    }
    const std::uint64_t count = m.capabilities & 0xFF;  // VCNT
    for (std::uint64_t i = 0; i < count && i < vmm::kMaxVariableMtrrs; ++i) {
        const auto n = static_cast<std::uint32_t>(2 * i);
        m.variable[i].base = x64::rdmsr(vmm::mtrr_msr::kPhysBase0 + n);
        m.variable[i].mask = x64::rdmsr(vmm::mtrr_msr::kPhysMask0 + n);
    }
    m.physical_address_bits = x64::cpuid(0x80000008).eax & 0xFF;
    auto decoded = vmm::decode_mtrrs(m, mtrr_ranges);
    if (!decoded) {
        Line(Level::error, vmm::log::kNoCpu) << "reading the MTRRs: " << to_string(decoded.error());
        return false;
    }
    map.memory_types = {mtrr_ranges, decoded->count};
    map.default_memory_type = decoded->default_type;
    return true;
}

VmmStatus init(vmm::VmmState& s, const vmm::IdentityMapConfig& host_map)
{
    vmx.caps = read_vmx_capabilities([](std::uint32_t index) { return x64::rdmsr(index); });
    auto setup = check_vmx_support(vmx.caps);
    if (!setup) {
        Line(Level::error, vmm::log::kNoCpu) << "VT-x: missing " << setup.error().feature;
        return VmmStatus::unsupported_cpu;
    }
    vmx.setup = *setup;

    vmm::IdentityMapConfig map = host_map;
    if (!vmx.setup.ept_1g_pages && map.largest_page == vmm::PageSize::size_1g) {
        map.largest_page = vmm::PageSize::size_2m;
    }
    if (!read_mtrr_map(map)) {
        return VmmStatus::unsupported_cpu;
    }
    auto ept = vmm::NestedPageTable<vmm::EptEntry>::identity_map(s.pool, map);
    if (!ept) {
        Line(Level::error, vmm::log::kNoCpu) << "building the EPT: " << to_string(ept.error());
        return VmmStatus::out_of_memory;
    }
    vmx.host_ept = *ept;
    vmx.ept_pointer = vmm::ept_pointer(vmx.host_ept.root());

    // MSR bitmap (SDM Vol. 3C, 25.6.9): read bitmaps for MSRs 0-1FFFH and
    // C0000000H-C0001FFFH at offsets 0 and 1024, write bitmaps at 2048
    // and 3072. Intercepted: IA32_FEATURE_CONTROL (VMX must look disabled)
    // and reads of the VMX capability MSRs, which fault on a CPU without
    // VMX. The I/O bitmaps stay zero: no port is intercepted.
    auto bitmap = s.pool.allocate_page();
    auto io_a = s.pool.allocate_page();
    auto io_b = s.pool.allocate_page();
    if (!bitmap || !io_a || !io_b) {
        return VmmStatus::out_of_memory;
    }
    vmx.msr_bitmap_pa = bitmap->raw();
    vmx.io_bitmap_a_pa = io_a->raw();
    vmx.io_bitmap_b_pa = io_b->raw();
    auto* bits = reinterpret_cast<std::uint8_t*>(vmx.msr_bitmap_pa);
    auto intercept_low = [bits](std::uint32_t index, bool write) {
        bits[index / 8] |= static_cast<std::uint8_t>(1U << (index % 8));
        if (write) {
            bits[2048 + index / 8] |= static_cast<std::uint8_t>(1U << (index % 8));
        }
    };
    intercept_low(msr::kFeatureControl, true);
    for (std::uint32_t index = msr::kBasic; index <= 0x491; ++index) {
        intercept_low(index, false);
    }

    Line(Level::info, vmm::log::kNoCpu)
        << "VT-x: EPT in " << vmx.host_ept.table_pages() << " pages (" << map.memory_types.size()
        << " MTRR ranges), VPID " << (vmx.setup.vpid ? "yes" : "no") << ", 1 GiB EPT pages "
        << (vmx.setup.ept_1g_pages ? "yes" : "no");
    return VmmStatus::ok;
}

// Collects VMWRITE failures: a VMCS that is only partly written must not
// be entered.
struct VmcsWriter {
    bool ok{true};

    template <class T, class V>
    void operator()(VmcsField<T> field, V value)
    {
        ok = vmwrite(field, value).has_value() && ok;
    }

    void segment(const GuestSegmentFields& f, const x64::SegmentState& s)
    {
        (*this)(f.selector, s.selector);
        (*this)(f.base, s.base);
        (*this)(f.limit, s.limit);
        (*this)(f.access_rights, access_rights_from_attributes(s.attributes));
    }
};

// The guest state: this CPU as it runs now, continuing at ctx's RIP/RSP.
bool write_guest_state(const LaunchContext& ctx, std::uint64_t rflags, std::uint64_t cr4_before)
{
    VmcsWriter w;
    const auto gdtr = x64::read_gdtr();
    const auto idtr = x64::read_idtr();
    auto segment = [&gdtr](std::uint16_t selector, bool system = false) {
        return x64::read_segment(gdtr.base, gdtr.limit, selector, system);
    };
    w.segment(kGuestCs, segment(x64::read_cs()));
    w.segment(kGuestSs, segment(x64::read_ss()));
    w.segment(kGuestDs, segment(x64::read_ds()));
    w.segment(kGuestEs, segment(x64::read_es()));
    auto fs = segment(x64::read_fs());
    auto gs = segment(x64::read_gs());
    // 64-bit code keeps the FS/GS bases in MSRs (SDM Vol. 3A, 3.4.4.1).
    fs.base = x64::rdmsr(x64msr::kFsBase);
    gs.base = x64::rdmsr(x64msr::kGsBase);
    w.segment(kGuestFs, fs);
    w.segment(kGuestGs, gs);
    w.segment(kGuestLdtr, segment(x64::read_ldtr(), true));
    // Firmware may never have loaded TR (OVMF does not): its hidden part
    // is then still the reset value, a 16-bit TSS, which VM entry refuses
    // for a 64-bit guest (SDM Vol. 3C, 27.3.1.2). The null TR gets the
    // descriptor a 64-bit TSS would have; nothing uses it until the guest
    // loads its own.
    auto tr = segment(x64::read_tr(), true);
    if (tr.selector == 0) {
        tr = {0, 0x8B, 0xFFFF, 0};  // present, busy 64-bit TSS
    }
    w.segment(kGuestTr, tr);
    w(kGuestGdtrBase, gdtr.base);
    w(kGuestGdtrLimit, std::uint32_t{gdtr.limit});
    w(kGuestIdtrBase, idtr.base);
    w(kGuestIdtrLimit, std::uint32_t{idtr.limit});

    const auto& caps = vmx.caps;
    const auto cr0 = guest_cr0(x64::read_cr0(), caps.cr0_fixed0, caps.cr0_fixed1, true);
    const auto cr4 = guest_cr4(cr4_before, caps.cr4_fixed0, caps.cr4_fixed1);
    w(kGuestCr0, cr0.value);
    w(kCr0GuestHostMask, cr0.mask);
    w(kCr0ReadShadow, cr0.shadow);
    w(kGuestCr4, cr4.value);
    w(kCr4GuestHostMask, cr4.mask);
    w(kCr4ReadShadow, cr4.shadow);
    w(kGuestCr3, x64::read_cr3());
    w(kGuestDr7, x64::read_dr7());
    w(kGuestRsp, ctx.guest_rsp);
    w(kGuestRip, ctx.guest_rip);
    w(kGuestRflags, rflags);
    constexpr std::uint32_t kDebugctl = 0x1D9;
    w(kGuestDebugctl, x64::rdmsr(kDebugctl));
    w(kGuestPat, x64::rdmsr(x64msr::kPat));
    const std::uint64_t efer = x64::rdmsr(x64msr::kEfer);
    w(kGuestEfer, efer);
    w(kGuestSysenterCs, static_cast<std::uint32_t>(x64::rdmsr(x64msr::kSysenterCs)));
    w(kGuestSysenterEsp, x64::rdmsr(x64msr::kSysenterEsp));
    w(kGuestSysenterEip, x64::rdmsr(x64msr::kSysenterEip));
    w(kVmcsLinkPointer, ~std::uint64_t{0});  // no shadow VMCS (SDM 26.3.1.5)
    w(kGuestActivityState, std::uint32_t{0});
    w(kGuestInterruptibility, std::uint32_t{0});
    w(kGuestPendingDebugExceptions, std::uint64_t{0});

    // Controls. HLT/MWAIT exiting stays on until the CPU first idles with
    // interrupts enabled (vmm/core/xapic.hpp).
    const auto& setup = vmx.setup;
    w(kPinBasedControls, setup.pin_based);
    w(kPrimaryProcessorControls,
      setup.primary | primary::kHltExiting | (setup.primary & primary::kMwaitExiting));
    w(kSecondaryProcessorControls, setup.secondary);
    w(kExitControls, setup.exit);
    const bool long_mode = (efer & x64msr::kEferLma) != 0;
    w(kEntryControls, long_mode ? (setup.entry | entry_control::kIa32eModeGuest)
                                : (setup.entry & ~entry_control::kIa32eModeGuest));
    w(kExceptionBitmap, std::uint32_t{0});
    w(kCr3TargetCount, std::uint32_t{0});
    w(kExitMsrStoreCount, std::uint32_t{0});
    w(kExitMsrLoadCount, std::uint32_t{0});
    w(kEntryMsrLoadCount, std::uint32_t{0});
    w(kEntryInterruptionInfo, std::uint32_t{0});
    w(kMsrBitmap, vmx.msr_bitmap_pa);
    w(kIoBitmapA, vmx.io_bitmap_a_pa);
    w(kIoBitmapB, vmx.io_bitmap_b_pa);
    w(kEptPointer, vmx.ept_pointer);
    if (setup.vpid) {
        w(kVirtualProcessorId, kHostVpid);
    }
    return w.ok;
}

}  // namespace

VmxState& vmx_state()
{
    return vmx;
}

VmmStatus prepare_cpu(vmm::PerCpu& cpu, const LaunchContext& ctx, std::uint64_t rflags)
{
    const std::uint64_t cr4_before = x64::read_cr4();
    if ((cr4_before & kCr4Vmxe) != 0) {
        Line(Level::error, cpu.index) << "CR4.VMXE is already set: another hypervisor uses VMX";
        return VmmStatus::already_running;
    }
    auto plan = plan_feature_control(x64::rdmsr(msr::kFeatureControl));
    if (!plan) {
        Line(Level::error, cpu.index) << plan.error().reason;
        return VmmStatus::unsupported_cpu;
    }
    if (plan->write) {
        x64::wrmsr(msr::kFeatureControl, plan->value);
    }
    // VMXON requires CR0 and CR4 within the fixed bits (SDM Vol. 3C, 24.8).
    const auto& caps = vmx.caps;
    const std::uint64_t cr0 = x64::read_cr0();
    if ((cr0 & caps.cr0_fixed0) != caps.cr0_fixed0 || (cr0 & ~caps.cr0_fixed1) != 0) {
        Line(Level::error, cpu.index)
            << "CR0 " << vmm::log::Hex{cr0} << " is outside the VMX fixed bits";
        return VmmStatus::unsupported_cpu;
    }
    x64::write_cr4(cr4_before | kCr4Vmxe);
    *reinterpret_cast<volatile std::uint32_t*>(cpu.host_save_pa) = vmx.setup.vmcs_revision;
    *reinterpret_cast<volatile std::uint32_t*>(cpu.vmcb_pa) = vmx.setup.vmcs_revision;
    if (!vmxon(cpu.host_save_pa)) {
        x64::write_cr4(cr4_before);
        Line(Level::error, cpu.index) << "VMXON failed";
        return VmmStatus::unsupported_cpu;
    }
    // Translations cached by an earlier run of Boxy (late launch reuses
    // addresses) must not survive.
    if (vmx.setup.invept_all_context) {
        (void)invept(InveptType::all_context, 0);
    }
    if (vmx.setup.vpid && vmx.setup.invvpid_all_context) {
        (void)invvpid(InvvpidType::all_context, 0);
    }
    if (!vmclear(cpu.vmcb_pa) || !vmptrld(cpu.vmcb_pa) ||
        !write_guest_state(ctx, rflags, cr4_before)) {
        vmxoff();
        x64::write_cr4(cr4_before);
        Line(Level::error, cpu.index) << "filling the VMCS failed";
        return VmmStatus::bad_cpu;
    }
    return VmmStatus::ok;
}

bool reset_to_init_state()
{
    // SDM Vol. 3A, Table 10-1 "IA-32 and Intel 64 Processor States
    // Following Power-up, Reset, or INIT".
    VmcsWriter w;
    constexpr std::uint32_t kData = 0x93;  // present, writable, accessed
    const x64::SegmentState cs{0xF000, 0x9B, 0xFFFF, 0xFFFF0000};
    w.segment(kGuestCs, cs);
    for (const auto* f : {&kGuestDs, &kGuestEs, &kGuestSs, &kGuestFs, &kGuestGs}) {
        // A present data segment, not "unusable": real mode has no null selectors.
        w(f->selector, std::uint16_t{0});
        w(f->base, std::uint64_t{0});
        w(f->limit, std::uint32_t{0xFFFF});
        w(f->access_rights, kData);
    }
    w(kGuestLdtrSelector, std::uint16_t{0});
    w(kGuestLdtrBase, std::uint64_t{0});
    w(kGuestLdtrLimit, std::uint32_t{0xFFFF});
    w(kGuestLdtrAccessRights, std::uint32_t{0x82});
    w(kGuestTrSelector, std::uint16_t{0});
    w(kGuestTrBase, std::uint64_t{0});
    w(kGuestTrLimit, std::uint32_t{0xFFFF});
    w(kGuestTrAccessRights, std::uint32_t{0x8B});
    w(kGuestGdtrBase, std::uint64_t{0});
    w(kGuestGdtrLimit, std::uint32_t{0xFFFF});
    w(kGuestIdtrBase, std::uint64_t{0});
    w(kGuestIdtrLimit, std::uint32_t{0xFFFF});
    const auto& caps = vmx.caps;
    const auto cr0 = guest_cr0(0x60000010, caps.cr0_fixed0, caps.cr0_fixed1, true);
    const auto cr4 = guest_cr4(0, caps.cr4_fixed0, caps.cr4_fixed1);
    w(kGuestCr0, cr0.value);
    w(kCr0ReadShadow, cr0.shadow);
    w(kGuestCr4, cr4.value);
    w(kCr4ReadShadow, cr4.shadow);
    w(kGuestCr3, std::uint64_t{0});
    w(kGuestDr7, std::uint64_t{0x400});
    w(kGuestRflags, std::uint64_t{0x2});
    w(kGuestRip, std::uint64_t{0xFFF0});
    w(kGuestRsp, std::uint64_t{0});
    w(kGuestEfer, std::uint64_t{0});
    w(kGuestPat, std::uint64_t{0x0007040600070406ULL});
    w(kGuestSysenterCs, std::uint32_t{0});
    w(kGuestSysenterEsp, std::uint64_t{0});
    w(kGuestSysenterEip, std::uint64_t{0});
    w(kGuestDebugctl, std::uint64_t{0});
    w(kGuestInterruptibility, std::uint32_t{0});
    w(kGuestPendingDebugExceptions, std::uint64_t{0});
    w(kEntryInterruptionInfo, std::uint32_t{0});
    w(kEntryControls, vmx.setup.entry & ~entry_control::kIa32eModeGuest);
    // It may park again before its OS runs (vmm/core/xapic.hpp).
    w(kPrimaryProcessorControls,
      vmx.setup.primary | primary::kHltExiting | (vmx.setup.primary & primary::kMwaitExiting));
    return w.ok;
}

}  // namespace boxy::vmx

namespace boxy::vmm {

const Backend& vmx_backend()
{
    // Service VMs are AMD-V only so far (docs/architecture.md).
    static constexpr Backend backend{"VT-x",           vmx::unsupported, vmx::init,
                                     vmx::prepare_cpu, vmx::run,         nullptr};
    return backend;
}

}  // namespace boxy::vmm
