// SPDX-License-Identifier: MIT
#include "mmio.hpp"

#include "emulate/guest_mode.hpp"
#include "emulate/guest_paging.hpp"
#include "emulate/guest_registers.hpp"
#include "emulate/mmio_decode.hpp"
#include "instruction_length.hpp"
#include "log.hpp"
#include "vmm_state.hpp"

#include <array>

namespace boxy::vmm {
namespace {

ExitAction refuse(PerCpu& cpu, const ExitInfo& exit, const GuestControl& guest,
                  std::string_view why)
{
    log::Line(log::Level::warn, cpu.index)
        << "cannot emulate the access to " << log::Hex{exit.address} << " at rip "
        << log::Hex{guest.rip} << ": " << why << "; injecting #GP";
    return {ActionKind::inject_exception, kVectorGp, true, 0, why};
}

emulate::GuestRegisters to_emulate(const GuestGprs& g, const GuestControl& guest)
{
    emulate::GuestRegisters r{};
    std::uint64_t* out = &r.rax;
    for (unsigned i = 0; i < 16; ++i) {
        out[i] = g.r[i];  // same x86 register order on both sides
    }
    r.rip = guest.rip;
    r.rflags = guest.rflags;
    return r;
}

// Guest page tables are guest data: a walk may read only memory the host
// owns, never the VMM's.
bool read_host_memory(std::uint64_t gpa, void* out, std::size_t length)
{
    if (gpa + length < gpa || gpa + length > state().boot.phys_top || is_vmm_memory(gpa, length)) {
        return false;
    }
    const auto* src = reinterpret_cast<const volatile std::uint8_t*>(gpa);
    auto* dst = static_cast<std::uint8_t*>(out);
    for (std::size_t i = 0; i < length; ++i) {
        dst[i] = src[i];
    }
    return true;
}

bool fetch_host_instruction(const ExitInfo& exit, const GuestControl& guest,
                            FetchedInstruction& out)
{
    auto read = [](std::uint64_t gpa, void* dst, std::size_t length) {
        return read_host_memory(gpa, dst, length);
    };
    return fetch_at_rip(guest, exit.cpl, emulate::guest_phys_reader_for(read), out);
}

}  // namespace

bool fetch_at_rip(const GuestControl& guest, std::uint8_t cpl,
                  const emulate::GuestPhysReader& memory, FetchedInstruction& out)
{
    const emulate::GuestPagingState paging{guest.cr0, guest.cr3, guest.cr4, guest.efer, cpl};
    const emulate::CodeSegment cs{guest.cs_base, guest.cs_long, guest.cs_default32};
    out.mode = emulate::cpu_mode_of(guest.cr0, guest.efer, guest.rflags, cs);
    const std::uint64_t linear = emulate::code_linear_address(out.mode, cs, guest.rip);
    auto fetched = emulate::fetch_instruction_bytes(paging, linear, memory, out.bytes);
    if (!fetched) {
        return false;
    }
    out.count = *fetched;
    return true;
}

std::uint8_t instruction_length_at_rip(const ExitInfo& exit, const GuestControl& guest)
{
    FetchedInstruction fetched;
    if (!fetch_host_instruction(exit, guest, fetched)) {
        return 0;
    }
    auto length = instruction_length({fetched.bytes.data(), fetched.count}, fetched.mode);
    return length ? *length : 0;
}

ExitAction emulate_mmio(PerCpu& cpu, const ExitInfo& exit, GuestControl& guest,
                        const MmioDevice& device)
{
    FetchedInstruction fetched;
    if (exit.instruction_bytes_count != 0) {
        const emulate::CodeSegment cs{guest.cs_base, guest.cs_long, guest.cs_default32};
        fetched.mode = emulate::cpu_mode_of(guest.cr0, guest.efer, guest.rflags, cs);
        fetched.count = exit.instruction_bytes_count < fetched.bytes.size()
                            ? exit.instruction_bytes_count
                            : fetched.bytes.size();
        for (std::size_t i = 0; i < fetched.count; ++i) {
            fetched.bytes[i] = exit.instruction_bytes[i];
        }
    } else if (!fetch_host_instruction(exit, guest, fetched)) {
        return refuse(cpu, exit, guest, "instruction fetch failed");
    }
    const CpuMode mode = fetched.mode;
    emulate::GuestRegisters regs = to_emulate(cpu.gprs, guest);
    auto access = emulate::decode_mmio_access({fetched.bytes.data(), fetched.count}, mode, regs);
    if (!access) {
        return refuse(cpu, exit, guest, "unsupported instruction");
    }
    const bool loads = access->direction != emulate::MmioDirection::write;
    const bool stores = access->direction != emulate::MmioDirection::read;
    MmioRequest load{exit.address, access->width, false, 0};
    if (loads) {
        device.access(device.context, cpu, load);
    }
    if (stores) {
        MmioRequest store{exit.address, access->width, true, access->value};
        device.access(device.context, cpu, store);
    }
    if (loads) {
        emulate::apply_mmio_read(regs, *access, load.value);
        const std::uint64_t* in = &regs.rax;
        for (unsigned i = 0; i < 16; ++i) {
            cpu.gprs.r[i] = in[i];
        }
    }
    emulate::advance_rip(regs, mode, access->length);
    guest.rip = regs.rip;
    return {ActionKind::resume, 0, false, 0, {}};
}

}  // namespace boxy::vmm
