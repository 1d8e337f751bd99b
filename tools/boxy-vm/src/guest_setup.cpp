// SPDX-License-Identifier: MIT
#include "guest_setup.hpp"

#include <fmt/format.h>

namespace boxy::vm {
namespace {

// The general registers' order in boxy_vcpu_regs.gprs (abi.h).
constexpr std::size_t kRsp = 4;
constexpr std::size_t kRsi = 6;
// IA32_PAT's power-on value (Intel SDM Vol. 3, 12.12.4): WB, WT, UC-, UC,
// twice. A zero PAT would make all memory uncacheable until the kernel
// programs its own.
constexpr std::uint64_t kPowerOnPat = 0x0007'0406'0007'0406;

boxy_segment to_abi(const SegmentRegister& segment)
{
    return {segment.selector, segment.attributes, segment.limit, segment.base};
}

boxy_segment to_abi(const TableRegister& table)
{
    return {0, 0, table.limit, table.base};
}

bool has_parameter(std::string_view cmdline, std::string_view parameter)
{
    for (std::size_t at = cmdline.find(parameter); at != std::string_view::npos;
         at = cmdline.find(parameter, at + 1)) {
        if (at == 0 || cmdline[at - 1] == ' ') {
            return true;
        }
    }
    return false;
}

}  // namespace

std::string guest_cmdline(std::string_view user, std::uint64_t tsc_khz)
{
    std::string cmdline{user};
    if (tsc_khz != 0 && !has_parameter(user, kTscParameter)) {
        if (!cmdline.empty()) {
            cmdline += ' ';
        }
        cmdline += fmt::format("{}{}", kTscParameter, tsc_khz);
    }
    return cmdline;
}

Result<BootLayout, std::string> plan_guest(const BzImage& image, std::uint64_t memory_size,
                                           std::uint64_t initrd_size, std::size_t cmdline_length)
{
    const std::size_t longest = cmdline_length + kCmdlineReserve;
    if (longest > image.cmdline_size() || longest >= kCmdlineRegionSize) {
        const std::uint64_t limit =
            std::min<std::uint64_t>(image.cmdline_size(), kCmdlineRegionSize - 1);
        return make_error(fmt::format(
            "--cmdline is {} bytes, but this kernel takes {} and boxy-vm appends up to {} "
            "(tsc_early_khz=): shorten it to {} bytes at most",
            cmdline_length, limit, kCmdlineReserve,
            limit > kCmdlineReserve ? limit - kCmdlineReserve : 0));
    }
    auto layout = plan_layout(image, {memory_size, initrd_size, longest});
    if (!layout) {
        return make_error(std::string{to_string(layout.error())});
    }
    return *layout;
}

Result<GuestImage, std::string> load_guest(std::span<std::uint8_t> ram, const BzImage& image,
                                           ByteView initrd, std::string_view cmdline,
                                           std::uint32_t vcpus)
{
    auto layout = plan_layout(image, {ram.size(), initrd.size(), cmdline.size()});
    if (!layout) {
        return make_error(std::string{to_string(layout.error())});
    }
    AcpiConfig config{vcpus, kGuestDevices, CpuEntryKind::local_apic};
    config.isa_devices = true;
    if (layout->acpi_address + layout->acpi_size > ram.size()) {
        return make_error(std::string{"ACPI tables do not fit in guest memory"});
    }
    auto acpi = write_acpi_tables(ram.subspan(layout->acpi_address, layout->acpi_size),
                                  layout->acpi_address, config);
    if (!acpi) {
        return make_error(std::string{to_string(acpi.error())});
    }
    auto loaded = load_boot_images(ram, image, *layout, initrd, cmdline, acpi->rsdp);
    if (!loaded) {
        return make_error(std::string{to_string(loaded.error())});
    }
    return GuestImage{*layout, *acpi, boot_vcpu_state(*layout)};
}

boxy_vcpu_regs to_abi_regs(const VcpuBootState& state)
{
    boxy_vcpu_regs regs{};
    regs.gprs[kRsp] = state.rsp;
    regs.gprs[kRsi] = state.rsi;
    regs.rip = state.rip;
    regs.rflags = state.rflags;
    regs.cr0 = state.cr0;
    regs.cr3 = state.cr3;
    regs.cr4 = state.cr4;
    regs.efer = state.efer;
    regs.pat = kPowerOnPat;
    regs.cs = to_abi(state.cs);
    regs.ds = to_abi(state.ds);
    regs.es = to_abi(state.es);
    regs.fs = to_abi(state.fs);
    regs.gs = to_abi(state.gs);
    regs.ss = to_abi(state.ss);
    regs.tr = to_abi(state.tr);
    regs.ldtr = to_abi(state.ldtr);
    regs.gdtr = to_abi(state.gdtr);
    regs.idtr = to_abi(state.idtr);
    regs.mp_state = BOXY_MP_RUNNABLE;
    return regs;
}

}  // namespace boxy::vm
