// SPDX-License-Identifier: MIT
//
// The VT-x run loop: enter the host VM, decode each VM exit into the core's
// ExitInfo (exit_decode.cpp), let the core handle it, apply its ExitAction
// to the VMCS. Only what exists on VMX alone is handled here: MOV to CR0/CR4
// of bits the VMM owns, and the INIT and SIPI exits.
#include "vmx.hpp"

#include "core/exits.hpp"
#include "core/log.hpp"
#include "core/mmio.hpp"
#include "core/native_state.hpp"
#include "core/vmm_state.hpp"
#include "core/xapic.hpp"
#include "exit_decode.hpp"
#include "vmcs.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>
#include <arch/x64/port_io.hpp>

namespace boxy::vmx {
namespace {

namespace x64msr = x64::msr;
using vmm::ExitReason;
using vmm::GuestGprs;
using vmm::log::Hex;
using vmm::log::Level;
using vmm::log::Line;

// A field the VMM wrote itself, or one every VMCS has: a failing VMREAD
// here means a broken VMCS, which dump_and_stop reports.
template <class T>
typename VmcsField<T>::Value read(VmcsField<T> field)
{
    auto value = vmread(field);
    return value ? *value : typename VmcsField<T>::Value{0};
}

template <class T, class V>
void write(VmcsField<T> field, V value)
{
    (void)vmwrite(field, value);
}

constinit std::uint8_t vmm_tss[104] alignas(16){};  // the host TR's; never used for a switch

[[noreturn]] void dump_and_stop(vmm::PerCpu& cpu, std::string_view why)
{
    Line(Level::error, cpu.index) << "FATAL: " << why << " (exit reason " << Hex{read(kExitReason)}
                                  << ", qualification " << Hex{read(kExitQualification)}
                                  << ", VM-instruction error " << read(kVmInstructionError) << ")";
    Line(Level::error, cpu.index) << "guest rip " << Hex{read(kGuestRip)} << " rsp "
                                  << Hex{read(kGuestRsp)} << " rflags " << Hex{read(kGuestRflags)}
                                  << " cs " << Hex{read(kGuestCsSelector)} << " ar "
                                  << Hex{read(kGuestCsAccessRights)};
    Line(Level::error, cpu.index) << "guest cr0 " << Hex{read(kGuestCr0)} << " cr3 "
                                  << Hex{read(kGuestCr3)} << " cr4 " << Hex{read(kGuestCr4)}
                                  << " efer " << Hex{read(kGuestEfer)} << " entry controls "
                                  << Hex{read(kEntryControls)};
    Line(Level::error, cpu.index) << "VMM stopped on this CPU; the machine must be reset";
    x64::halt_forever();
}

// The host state VM exits load: the VMM's own environment, already set up
// on this CPU by the core (vmm/core/vmm.cpp).
void write_host_state()
{
    const auto gdtr = x64::read_gdtr();
    const auto idtr = x64::read_idtr();
    write(kHostCr0, x64::read_cr0());
    write(kHostCr3, x64::read_cr3());
    write(kHostCr4, x64::read_cr4());
    write(kHostCsSelector, kHostCodeSelector);
    for (const auto& f :
         {kHostSsSelector, kHostDsSelector, kHostEsSelector, kHostFsSelector, kHostGsSelector}) {
        write(f, kHostDataSelector);
    }
    write(kHostTrSelector, kHostTssSelector);
    write(kHostFsBase, std::uint64_t{0});
    write(kHostGsBase, std::uint64_t{0});
    write(kHostTrBase, reinterpret_cast<std::uint64_t>(vmm_tss));
    write(kHostGdtrBase, gdtr.base);
    write(kHostIdtrBase, idtr.base);
    write(kHostSysenterCs, std::uint32_t{0});
    write(kHostSysenterEsp, std::uint64_t{0});
    write(kHostSysenterEip, std::uint64_t{0});
    write(kHostPat, x64::rdmsr(x64msr::kPat));
    write(kHostEfer, x64::rdmsr(x64msr::kEfer));
    write(kHostRip, reinterpret_cast<std::uint64_t>(&boxy_vmx_exit));
}

// MOV to CR0/CR4 that would change a bit the VMM owns (the guest/host
// mask; SDM Vol. 3C, 26.1.3). Emulated as the instruction would act, with
// the fixed bits kept and a guest that sets a forbidden bit getting #GP.
vmm::ExitAction handle_cr_access(vmm::PerCpu& cpu, std::uint64_t qualification)
{
    const CrAccess access = decode_cr_access(qualification);
    if (access.type != CrAccessType::mov_to_cr ||
        (access.control_register != 0 && access.control_register != 4)) {
        return {vmm::ActionKind::fatal, 0, false, 0, "unexpected control-register exit"};
    }
    const std::uint64_t value =
        access.gpr == GuestGprs::rsp ? read(kGuestRsp) : cpu.gprs.r[access.gpr];
    const auto& caps = vmx_state().caps;
    if (access.control_register == 4) {
        const auto cr4 = guest_cr4(value, caps.cr4_fixed0, caps.cr4_fixed1);
        if (cr4.refused != 0) {
            return {vmm::ActionKind::inject_exception, vmm::kVectorGp, true, 0, "CR4 write"};
        }
        write(kGuestCr4, cr4.value);
        write(kCr4ReadShadow, cr4.shadow);
    } else {
        const auto cr0 = guest_cr0(value, caps.cr0_fixed0, caps.cr0_fixed1, true);
        if (cr0.refused != 0) {
            return {vmm::ActionKind::inject_exception, vmm::kVectorGp, true, 0, "CR0 write"};
        }
        // Paging on or off with EFER.LME set switches IA-32e mode, which
        // MOV to CR0 does in hardware (SDM Vol. 3A, 10.8.5).
        const std::uint64_t old_cr0 = read(kGuestCr0);
        std::uint64_t efer = read(kGuestEfer);
        std::uint32_t entry = read(kEntryControls);
        const bool paging_was = (old_cr0 & kCr0Pg) != 0;
        const bool paging_now = (cr0.value & kCr0Pg) != 0;
        if ((efer & x64msr::kEferLme) != 0 && paging_was != paging_now) {
            efer = paging_now ? (efer | x64msr::kEferLma) : (efer & ~x64msr::kEferLma);
            entry = paging_now ? (entry | entry_control::kIa32eModeGuest)
                               : (entry & ~entry_control::kIa32eModeGuest);
            write(kGuestEfer, efer);
            write(kEntryControls, entry);
        }
        write(kGuestCr0, cr0.value);
        write(kCr0ReadShadow, cr0.shadow);
    }
    // The instruction would have flushed what these bits govern.
    if (vmx_state().setup.vpid && vmx_state().setup.invvpid_single_context) {
        (void)invvpid(InvvpidType::single_context, kHostVpid);
    }
    return {};
}

// A start-up IPI with vector V starts real-mode execution at V * 4096
// (SDM Vol. 3A, 9.4.4.1): CS = V << 8, IP = 0; EDX holds the signature.
void start_at_sipi(vmm::PerCpu& cpu, std::uint8_t vector)
{
    write(kGuestCsSelector, static_cast<std::uint16_t>(vector << 8));
    write(kGuestCsBase, static_cast<std::uint64_t>(vector) << 12);
    write(kGuestRip, std::uint64_t{0});
    write(kGuestActivityState, std::uint32_t{0});
    for (auto& r : cpu.gprs.r) {
        r = 0;
    }
    cpu.gprs.r[GuestGprs::rdx] = x64::cpuid(1).eax;
    Line(Level::info, cpu.index) << "INIT-SIPI: starting the host at "
                                 << Hex{static_cast<std::uint64_t>(vector) << 12} << " in the VM";
}

// INIT and SIPI posted by another CPU's VMM (vmm/core/xapic.cpp).
void take_startup_ipis(vmm::PerCpu& cpu)
{
    if (!vmm::xapic::take_init(cpu)) {
        return;
    }
    if (!reset_to_init_state()) {
        dump_and_stop(cpu, "VMWRITE failed while resetting the guest");
    }
    start_at_sipi(cpu, vmm::xapic::wait_for_sipi(cpu));
}

[[noreturn]] void leave(vmm::PerCpu& cpu);

void advance(vmm::PerCpu& cpu, const VmxExitFields& fields, const vmm::ExitInfo& exit,
             const vmm::ExitAction& action, vmm::GuestControl& guest)
{
    std::uint8_t length = exiting_instruction_length(fields);
    if (length == 0) {
        length = action.length;
    }
    if (length == 0) {
        length = vmm::instruction_length_at_rip(exit, guest);
    }
    if (length == 0) {
        dump_and_stop(cpu, "cannot tell the length of the exiting instruction");
    }
    write(kGuestRip, guest.rip + length);
    // Stepping over an instruction ends STI/MOV SS blocking (SDM 26.7.1).
    write(kGuestInterruptibility, read(kGuestInterruptibility) & ~std::uint32_t{3});
}

void apply(vmm::PerCpu& cpu, const VmxExitFields& fields, const vmm::ExitInfo& exit,
           const vmm::ExitAction& action, vmm::GuestControl& guest)
{
    switch (action.kind) {
        case vmm::ActionKind::advance: advance(cpu, fields, exit, action, guest); break;
        case vmm::ActionKind::leave_vmm: advance(cpu, fields, exit, action, guest); leave(cpu);
        case vmm::ActionKind::resume: break;
        case vmm::ActionKind::stop_idle_intercept:
            write(kPrimaryProcessorControls, read(kPrimaryProcessorControls) &
                                                 ~(primary::kHltExiting | primary::kMwaitExiting));
            break;
        case vmm::ActionKind::inject_exception: {
            // Hardware exception (type 3), valid (SDM Vol. 3C, 25.8.3).
            constexpr std::uint32_t kTypeHardwareException = 3U << 8;
            constexpr std::uint32_t kDeliverErrorCode = 1U << 11;
            constexpr std::uint32_t kValid = 1U << 31;
            write(kEntryInterruptionInfo, action.vector | kTypeHardwareException | kValid |
                                              (action.has_error ? kDeliverErrorCode : 0));
            write(kEntryExceptionErrorCode, action.error_code);
            break;
        }
        case vmm::ActionKind::reset_machine:
            Line(Level::warn, cpu.index) << action.why << ": resetting the machine";
            x64::outb(0xCF9, 0x06);  // Reset Control Register: full reset
            x64::halt_forever();
        case vmm::ActionKind::fatal: dump_and_stop(cpu, action.why);
    }
}

}  // namespace

void run(vmm::PerCpu& cpu)
{
    write_host_state();
    int launched = 0;
    for (;;) {
        if (boxy_vmx_enter(&cpu.gprs, launched) != 0) {
            dump_and_stop(cpu, launched != 0 ? "VMRESUME failed" : "VMLAUNCH failed");
        }
        launched = 1;
        VmxExitFields fields;
        fields.reason = read(kExitReason);
        fields.qualification = read(kExitQualification);
        fields.guest_physical_address = read(kGuestPhysicalAddress);
        fields.instruction_length = read(kExitInstructionLength);
        fields.interruption_info = read(kExitInterruptionInfo);
        fields.interruption_error_code = read(kExitInterruptionErrorCode);
        fields.guest_ss_access_rights = read(kGuestSsAccessRights);
        vmm::ExitInfo exit = decode_exit(fields);
        if (exit.reason == ExitReason::msr_read || exit.reason == ExitReason::msr_write) {
            exit.address = cpu.gprs.r[GuestGprs::rcx] & 0xFFFFFFFF;
        }
        write(kEntryInterruptionInfo, std::uint32_t{0});

        constexpr std::uint32_t kArLong = 1U << 13;
        constexpr std::uint32_t kArDefault32 = 1U << 14;
        const std::uint32_t cs_ar = read(kGuestCsAccessRights);
        vmm::GuestControl guest{read(kGuestRip),
                                read(kGuestEfer),
                                0,
                                read(kGuestRflags),
                                read(kGuestCr0),
                                read(kGuestCr3),
                                read(kGuestCr4),
                                read(kGuestCsBase),
                                (cs_ar & kArLong) != 0,
                                (cs_ar & kArDefault32) != 0};
        vmm::ExitAction action{};
        switch (exit.reason) {
            case ExitReason::cr_access:
                cpu.stats.record(exit.reason);
                action = handle_cr_access(cpu, fields.qualification);
                break;
            case ExitReason::init:
                // A real INIT (one the VMM did not intercept at the ICR):
                // reset and wait for the SIPI in the wait-for-SIPI state.
                cpu.stats.record(exit.reason);
                if (!reset_to_init_state()) {
                    dump_and_stop(cpu, "VMWRITE failed while resetting the guest");
                }
                write(kGuestActivityState, std::uint32_t{3});
                action = {vmm::ActionKind::resume};
                break;
            case ExitReason::sipi:
                cpu.stats.record(exit.reason);
                start_at_sipi(cpu, static_cast<std::uint8_t>(exit.address));
                action = {vmm::ActionKind::resume};
                break;
            case ExitReason::other:
                if ((fields.reason & 0xFFFF) == exit_reason::kInvd) {
                    // INVD always exits (SDM Vol. 3C, 26.1.2). Dropping
                    // dirty lines could lose the VMM's data; WBINVD
                    // writes them back, which a guest cannot tell apart.
                    cpu.stats.record(exit.reason);
                    asm volatile("wbinvd" ::: "memory");
                    action = {};
                    break;
                }
                [[fallthrough]];
            default:
                action = vmm::handle_exit(cpu, exit, guest);
                write(kGuestEfer, guest.efer);
                if (guest.rip != read(kGuestRip)) {
                    write(kGuestRip, guest.rip);
                }
                break;
        }
        apply(cpu, fields, exit, action, guest);
        take_startup_ipis(cpu);
    }
}

namespace {

// The guest's TR (and LDTR) cannot be loaded from its own GDT: LTR faults on
// the busy descriptor there, and Linux maps its GDT read-only. A scratch GDT
// holding just those descriptors at the guest's selectors loads their
// hidden parts; the guest's GDTR is loaded afterwards (boxy_resume_native).
alignas(16) constinit std::uint64_t scratch_gdt[8192]{};

void write_system_descriptor(std::uint16_t selector, std::uint64_t base, std::uint32_t limit,
                             std::uint32_t access_rights, std::uint8_t type)
{
    const std::uint32_t index = selector >> 3;
    const std::uint64_t flags = (access_rights >> 12) & 0xF;  // AVL, L, D/B, G
    scratch_gdt[index] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) |
                         (static_cast<std::uint64_t>(type | 0x80) << 40) |
                         (static_cast<std::uint64_t>((limit >> 16) & 0xF) << 48) | (flags << 52) |
                         (((base >> 24) & 0xFF) << 56);
    scratch_gdt[index + 1] = base >> 32;
}

void load_system_segments()
{
    const std::uint16_t tr = read(kGuestTrSelector);
    const std::uint16_t ldtr = read(kGuestLdtrSelector);
    constexpr std::uint8_t kAvailableTss = 0x9;
    constexpr std::uint8_t kLdt = 0x2;
    write_system_descriptor(tr, read(kGuestTrBase), read(kGuestTrLimit), read(kGuestTrAccessRights),
                            kAvailableTss);
    const bool ldt =
        (ldtr & ~7U) != 0 && (read(kGuestLdtrAccessRights) & kAccessRightsUnusable) == 0;
    if (ldt) {
        write_system_descriptor(ldtr, read(kGuestLdtrBase), read(kGuestLdtrLimit),
                                read(kGuestLdtrAccessRights), kLdt);
    }
    const x64::DescriptorTableRegister gdtr{sizeof(scratch_gdt) - 1,
                                            reinterpret_cast<std::uint64_t>(scratch_gdt)};
    asm volatile("lgdt %0" ::"m"(gdtr));
    asm volatile("ltr %0" ::"r"(tr));
    const std::uint16_t ldt_selector = ldt ? ldtr : 0;
    asm volatile("lldt %0" ::"r"(ldt_selector));
    scratch_gdt[tr >> 3] = scratch_gdt[(tr >> 3) + 1] = 0;
    if (ldt) {
        scratch_gdt[ldtr >> 3] = scratch_gdt[(ldtr >> 3) + 1] = 0;
    }
}

// BOXY_CALL_STOP_CPU: give the CPU back to the guest, natively, at the
// instruction after the hypercall. VM exits load the host's SYSENTER MSRs,
// FS/GS bases, PAT, EFER and DR7 (SDM Vol. 3C, 28.5.1), so those come back
// from the guest-state fields; STAR, LSTAR and the like were never touched.
[[noreturn]] void leave(vmm::PerCpu& cpu)
{
    vmm::NativeState n{};
    for (unsigned i = 0; i < 16; ++i) {
        n.gprs[i] = cpu.gprs.r[i];
    }
    n.rip = read(kGuestRip);
    n.rsp = read(kGuestRsp);
    n.gprs[GuestGprs::rsp] = n.rsp;
    n.rflags = read(kGuestRflags);
    // What the guest believes is in CR0/CR4: the shadows for owned bits.
    const std::uint64_t cr0_mask = read(kCr0GuestHostMask);
    const std::uint64_t cr4_mask = read(kCr4GuestHostMask);
    n.cr0 = (read(kGuestCr0) & ~cr0_mask) | (read(kCr0ReadShadow) & cr0_mask);
    n.cr4 = (read(kGuestCr4) & ~cr4_mask) | (read(kCr4ReadShadow) & cr4_mask);
    n.cr4 &= ~kCr4Vmxe;
    n.cr3 = read(kGuestCr3);
    n.cs = read(kGuestCsSelector);
    n.ss = read(kGuestSsSelector);
    n.ds = read(kGuestDsSelector);
    n.es = read(kGuestEsSelector);
    n.fs = read(kGuestFsSelector);
    n.gs = read(kGuestGsSelector);
    n.fs_base = read(kGuestFsBase);
    n.gs_base = read(kGuestGsBase);
    n.gdtr.limit = static_cast<std::uint16_t>(read(kGuestGdtrLimit));
    n.gdtr.base = read(kGuestGdtrBase);
    n.idtr.limit = static_cast<std::uint16_t>(read(kGuestIdtrLimit));
    n.idtr.base = read(kGuestIdtrBase);
    const std::uint64_t efer = read(kGuestEfer);
    const std::uint64_t pat = read(kGuestPat);
    const std::uint64_t debugctl = read(kGuestDebugctl);
    const std::uint64_t dr7 = read(kGuestDr7);
    const std::uint64_t sysenter_cs = read(kGuestSysenterCs);
    const std::uint64_t sysenter_esp = read(kGuestSysenterEsp);
    const std::uint64_t sysenter_eip = read(kGuestSysenterEip);

    load_system_segments();
    vmm::mark_left(cpu);
    (void)vmclear(cpu.vmcb_pa);
    vmxoff();
    constexpr std::uint32_t kDebugctl = 0x1D9;
    x64::wrmsr(x64msr::kSysenterCs, sysenter_cs);
    x64::wrmsr(x64msr::kSysenterEsp, sysenter_esp);
    x64::wrmsr(x64msr::kSysenterEip, sysenter_eip);
    x64::wrmsr(x64msr::kPat, pat);
    x64::wrmsr(x64msr::kEfer, efer);
    x64::wrmsr(kDebugctl, debugctl);
    x64::write_dr7(dr7);
    boxy_resume_native(&n);
}

}  // namespace

}  // namespace boxy::vmx
