// SPDX-License-Identifier: MIT
//
// Putting a guest into its RAM: the boot_params/ACPI building blocks
// (boot_params.hpp, acpi.hpp) applied to one VM, the command line the guest
// gets, and the boot vCPU's registers in the ABI's layout.
#pragma once

#include "acpi.hpp"
#include "boot_params.hpp"
#include "bzimage.hpp"

#include <boxy/abi.h>
#include <boxy/result.hpp>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace boxy::vm {

inline constexpr std::string_view kDefaultCmdline = "console=hvc0";

// Linux calibrates the TSC against the PIT or the HPET when CPUID leaves
// 0x15/0x16 do not give its frequency; a hardware-reduced ACPI VM has
// neither timer, so the calibration fails or takes a bogus value and every
// delay and clock derived from the TSC is wrong. tsc_early_khz= (Linux 5.3+)
// gives the frequency directly: the host's TSC, which the guest sees.
inline constexpr std::string_view kTscParameter = "tsc_early_khz=";
// What boxy-vm may append to the user's command line: a space, the
// parameter and up to 20 digits.
inline constexpr std::size_t kCmdlineReserve = 1 + kTscParameter.size() + 20;

// The user's command line plus what Boxy needs: tsc_early_khz=<tsc_khz>,
// unless the user gave one already or the frequency is unknown (0).
[[nodiscard]] std::string guest_cmdline(std::string_view user, std::uint64_t tsc_khz);

// The virtio-mmio devices of every VM, in slot order: the console in slot 0.
inline constexpr std::array<VirtioMmioDevice, 1> kGuestDevices{virtio_mmio_slot(0)};

// plan_layout for a VM whose command line will be `cmdline_length` bytes
// before boxy-vm appends to it (kCmdlineReserve is added here), with
// errors phrased for the user.
[[nodiscard]] Result<BootLayout, std::string> plan_guest(const BzImage& image,
                                                         std::uint64_t memory_size,
                                                         std::uint64_t initrd_size,
                                                         std::size_t cmdline_length);

struct GuestImage {
    BootLayout layout;
    AcpiTables acpi;
    VcpuBootState boot_vcpu;
};

// Writes kernel, initrd, command line, zero page, page tables and ACPI
// tables (for `vcpus` vCPUs, kGuestDevices and the ISA devices) into `ram`
// (guest-physical 0 at ram[0], ram.size() the VM's memory).
[[nodiscard]] Result<GuestImage, std::string> load_guest(std::span<std::uint8_t> ram,
                                                         const BzImage& image, ByteView initrd,
                                                         std::string_view cmdline,
                                                         std::uint32_t vcpus);

// The boot vCPU state in struct boxy_vcpu_regs: general registers in the
// ABI's order, segments with their VMCB attributes (descriptor bits 40-47
// in 7:0, bits 52-55 in 11:8, as VcpuBootState already has them), the
// power-on PAT, mp_state RUNNABLE.
[[nodiscard]] boxy_vcpu_regs to_abi_regs(const VcpuBootState& state);

}  // namespace boxy::vm
