// SPDX-License-Identifier: MIT
//
// AMD-V set-up: the checks, the state shared by all CPUs (nested page
// tables, MSR and I/O permission maps) and each CPU's VMCB.
#include "core/backend.hpp"
#include "core/log.hpp"
#include "core/vmm_state.hpp"
#include "svm.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>
#include <arch/x64/segment.hpp>
#include <arch/x64/virtualization_support.hpp>

namespace boxy::svm {
namespace {

namespace msr = x64::msr;

constinit SvmState svm;

VmcbSegment to_vmcb(const x64::SegmentState& s)
{
    return {s.selector, s.attributes, s.limit, s.base};
}

std::string_view unsupported()
{
    return x64::missing_svm_feature();
}

VmmStatus init(vmm::VmmState& s, const vmm::IdentityMapConfig& host_map)
{
    auto npt = vmm::NestedPageTable<vmm::NptEntry>::identity_map(s.pool, host_map);
    if (!npt) {
        vmm::log::Line(vmm::log::Level::error, vmm::log::kNoCpu)
            << "building nested page tables: " << to_string(npt.error());
        return VmmStatus::out_of_memory;
    }
    svm.host_npt = *npt;

    // MSR permission map, 8 KiB (APM Vol. 2, 15.11): two bits per MSR (read,
    // write) in three ranges. Intercept EFER (to hide SVME), VM_CR and
    // VM_HSAVE_PA. The I/O permission map, 12 KiB, stays zero: no port is
    // intercepted.
    auto msrpm = s.pool.allocate_run(vmm::PageCount{2});
    auto iopm = s.pool.allocate_run(vmm::PageCount{3});
    if (!msrpm || !iopm || !init_service_permission_maps(s.pool)) {
        return VmmStatus::out_of_memory;
    }
    svm.msr_permission_map_pa = msrpm->raw();
    svm.io_permission_map_pa = iopm->raw();
    auto* map = reinterpret_cast<std::uint8_t*>(svm.msr_permission_map_pa);
    auto intercept = [map](std::uint32_t msr, std::uint32_t range_base, std::uint32_t byte_offset) {
        const std::uint32_t bit = (msr - range_base) * 2;
        map[byte_offset + bit / 8] |= static_cast<std::uint8_t>(3U << (bit % 8));
    };
    intercept(msr::kEfer, 0xC0000000, 0x800);
    intercept(msr::kVmCr, 0xC0010000, 0x1000);
    intercept(msr::kVmHsavePa, 0xC0010000, 0x1000);

    constexpr std::uint32_t kNripSave = 1U << 3;
    constexpr std::uint32_t kVmcbClean = 1U << 5;
    constexpr std::uint32_t kDecodeAssists = 1U << 7;
    const std::uint32_t svm_features = x64::cpuid(0x8000000A).edx;
    svm.nrip_save = (svm_features & kNripSave) != 0;
    svm.vmcb_clean_bits = (svm_features & kVmcbClean) != 0;
    svm.decode_assists = (svm_features & kDecodeAssists) != 0;
    vmm::log::Line(vmm::log::Level::info, vmm::log::kNoCpu)
        << "AMD-V: nested page tables in " << svm.host_npt.table_pages() << " pages; NRIP-save "
        << (svm.nrip_save ? "yes" : "no") << ", VMCB clean bits "
        << (svm.vmcb_clean_bits ? "yes" : "no") << ", decode assists "
        << (svm.decode_assists ? "yes" : "no");
    return VmmStatus::ok;
}

}  // namespace

SvmState& svm_state()
{
    return svm;
}

VmmStatus prepare_cpu(vmm::PerCpu& cpu, const LaunchContext& ctx, std::uint64_t rflags)
{
    auto& s = svm_state();
    Vmcb& v = vmcb_of(cpu);

    // SVM on, host save area set (APM Vol. 2, 15.4 "Enabling SVM").
    x64::wrmsr(msr::kEfer, x64::rdmsr(msr::kEfer) | msr::kEferSvme);
    x64::wrmsr(msr::kVmHsavePa, cpu.host_save_pa);

    // VMSAVE stores the current FS, GS, TR, LDTR (with their hidden parts),
    // KernelGsBase and the SYSCALL/SYSENTER MSRs: exactly the guest's values.
    asm volatile("vmsave %%rax" ::"a"(cpu.vmcb_pa) : "memory");

    const auto gdtr = x64::read_gdtr();
    const auto idtr = x64::read_idtr();
    auto segment = [&gdtr](std::uint16_t selector) {
        return to_vmcb(x64::read_segment(gdtr.base, gdtr.limit, selector, false));
    };
    v.save.cs = segment(x64::read_cs());
    v.save.ss = segment(x64::read_ss());
    v.save.ds = segment(x64::read_ds());
    v.save.es = segment(x64::read_es());
    v.save.gdtr = {0, 0, gdtr.limit, gdtr.base};
    v.save.idtr = {0, 0, idtr.limit, idtr.base};
    v.save.cpl = static_cast<std::uint8_t>((v.save.ss.attrib >> 5) & 3);
    v.save.efer = x64::rdmsr(msr::kEfer);
    v.save.cr0 = x64::read_cr0();
    v.save.cr3 = x64::read_cr3();
    v.save.cr4 = x64::read_cr4();
    v.save.cr2 = x64::read_cr2();
    v.save.dr7 = x64::read_dr7();
    v.save.dr6 = 0xFFFF0FF0;  // architectural reset value (SDM Vol. 3, 18.2.3)
    v.save.rflags = rflags;
    v.save.rip = ctx.guest_rip;
    v.save.rsp = ctx.guest_rsp;
    v.save.rax = 0;  // the launch call "returns" 0 in the guest
    v.save.g_pat = x64::rdmsr(msr::kPat);

    // Intercepts: VMRUN must be (APM 15.5.1); CPUID and VMMCALL are the
    // host's window on Boxy; MSRs by the permission map; the other SVM
    // instructions so the host sees none; shutdown to reset cleanly.
    // HLT too, while the CPU may wait to be started (vmm/core/xapic.hpp).
    v.control.intercept_misc1 =
        misc1::kCpuid | misc1::kMsrProt | misc1::kShutdown | misc1::kInvlpga | misc1::kHlt;
    v.control.intercept_misc2 = misc2::kVmrun | misc2::kVmmcall | misc2::kVmload | misc2::kVmsave |
                                misc2::kStgi | misc2::kClgi | misc2::kSkinit | kIdleMisc2;
    v.control.msrpm_base_pa = s.msr_permission_map_pa;
    v.control.iopm_base_pa = s.io_permission_map_pa;
    v.control.guest_asid = 1;   // ASID 0 is the host's (APM 15.16)
    v.control.tlb_control = 1;  // flush this guest's TLB entries on the first VMRUN
    v.control.np_enable = 1;
    v.control.n_cr3 = s.host_npt.root().raw();
    return VmmStatus::ok;
}

}  // namespace boxy::svm

namespace boxy::vmm {

const Backend& svm_backend()
{
    static constexpr Backend backend{"AMD-V",          svm::unsupported, svm::init,
                                     svm::prepare_cpu, svm::run,         &svm::kServiceVmOps};
    return backend;
}

}  // namespace boxy::vmm
